// RMSprop with 8-bit slots (quantize.ts): velocity (unsigned, stochastic rounding: a slow EMA) and
// momentum (signed, to nearest), one pass per block: the codes are decoded into registers, updated
// with RMSprop's own per-vector math (rmsprop.ts: rmspropVX4, rmspropDenX4, rmspropIncX4,
// rmspropMomX4), the weights stored and the new slot values kept in the slots' scratch while their
// absmax is reduced; then the block is encoded. The partial 16-element tail (and the whole block on
// the scalar path) is decoded into the scratch and stepped by RMSprop's float32 kernel itself.
// `mom` is 0 without momentum. Centered RMSprop is refused in TypeScript: v - a^2 of two 8-bit
// moments can go negative. The step pipeline folds in through `pl` (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeStoreW, pipeW } from './pipeline';
import { rmsprop, rmspropDenX4, rmspropIncX4, rmspropMomX4, rmspropVX4 } from './rmsprop';
import { QBLOCK, qAbsBits, qAbsmax, qCodes, qDecodeQ, qDequantBlock, qEncodeBlock, qScratch } from './quantize';
import { useSimd } from './simd';

// @ts-ignore: decorator
@inline
function rmspropBlock(p: usize, g: usize, vc: usize, mc: usize, sv: usize, sm: usize, va: usize, ma: usize, len: i32, rho: f32, omr: f32, lr: f32, eps: f32, mu: f32, seed: u32, base: u32, momentum: bool, f: i32, pl: usize): void {
  const vrho = f32x4.splat(rho);
  const vomr = f32x4.splat(omr);
  const vlr = f32x4.splat(lr);
  const ve = f32x4.splat(eps);
  const vmu = f32x4.splat(mu);
  const av = load<f32>(va);
  const am: f32 = momentum ? load<f32>(ma) : 0;
  const vA = f32x4.splat(av);
  const mA = f32x4.splat(am);
  const absMask = i32x4.splat(0x7fffffff);
  let vMax = i32x4.splat(0);
  let mMax = i32x4.splat(0);
  const e = useSimd ? len & ~15 : 0;
  for (let i = 0; i < e; i += 16) {
    const rv = v128.load(vc + <usize>i);
    const rm = momentum ? v128.load(mc + <usize>i) : i32x4.splat(0);
    // The four vectors of the 16 codes, written out (q must be a constant for qDecodeQ).
    {
      const o = <usize>i << 2;
      const gi = pipeG(v128.load(g + o), f, pl);
      const vi = rmspropVX4(qDecodeQ(rv, 0, vA, false), gi, vrho, vomr);
      v128.store(sv + o, vi);
      vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
      let inc = rmspropIncX4(gi, rmspropDenX4(vi, ve), vlr);
      if (momentum) {
        inc = rmspropMomX4(qDecodeQ(rm, 0, mA, true), inc, vmu);
        v128.store(sm + o, inc);
        mMax = i32x4.max_s(mMax, v128.and(inc, absMask));
      }
      pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), inc), f, pl);
    }
    {
      const o = (<usize>i << 2) + 16;
      const gi = pipeG(v128.load(g + o), f, pl);
      const vi = rmspropVX4(qDecodeQ(rv, 1, vA, false), gi, vrho, vomr);
      v128.store(sv + o, vi);
      vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
      let inc = rmspropIncX4(gi, rmspropDenX4(vi, ve), vlr);
      if (momentum) {
        inc = rmspropMomX4(qDecodeQ(rm, 1, mA, true), inc, vmu);
        v128.store(sm + o, inc);
        mMax = i32x4.max_s(mMax, v128.and(inc, absMask));
      }
      pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), inc), f, pl);
    }
    {
      const o = (<usize>i << 2) + 32;
      const gi = pipeG(v128.load(g + o), f, pl);
      const vi = rmspropVX4(qDecodeQ(rv, 2, vA, false), gi, vrho, vomr);
      v128.store(sv + o, vi);
      vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
      let inc = rmspropIncX4(gi, rmspropDenX4(vi, ve), vlr);
      if (momentum) {
        inc = rmspropMomX4(qDecodeQ(rm, 2, mA, true), inc, vmu);
        v128.store(sm + o, inc);
        mMax = i32x4.max_s(mMax, v128.and(inc, absMask));
      }
      pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), inc), f, pl);
    }
    {
      const o = (<usize>i << 2) + 48;
      const gi = pipeG(v128.load(g + o), f, pl);
      const vi = rmspropVX4(qDecodeQ(rv, 3, vA, false), gi, vrho, vomr);
      v128.store(sv + o, vi);
      vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
      let inc = rmspropIncX4(gi, rmspropDenX4(vi, ve), vlr);
      if (momentum) {
        inc = rmspropMomX4(qDecodeQ(rm, 3, mA, true), inc, vmu);
        v128.store(sm + o, inc);
        mMax = i32x4.max_s(mMax, v128.and(inc, absMask));
      }
      pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), inc), f, pl);
    }
  }
  if (e < len) {
    const o = <usize>e << 2;
    qDequantBlock(vc + <usize>e, av, sv + o, len - e, false);
    if (momentum) qDequantBlock(mc + <usize>e, am, sm + o, len - e, true);
    rmsprop(p + o, g + o, sv + o, 0, momentum ? sm + o : 0, len - e, rho, omr, lr, eps, mu, pl);
  }
  qEncodeBlock(sv, vc, va, qAbsBits(vMax, sv, e, len), len, false, true, seed, base);
  if (momentum) qEncodeBlock(sm, mc, ma, qAbsBits(mMax, sm, e, len), len, true, false, 0, 0);
}

export function rmspropInt8(p: usize, g: usize, v: usize, mom: usize, n: i32, seg: i32, rho: f32, omr: f32, lr: f32, eps: f32, mu: f32, seed: u32, pl: usize): void {
  const f = pipeFlags(pl);
  const vc = qCodes(v, n, seg);
  const mc: usize = mom == 0 ? 0 : qCodes(mom, n, seg);
  const sv = qScratch(v);
  const sm: usize = mom == 0 ? 0 : qScratch(mom);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      const len = min(QBLOCK, seg - b);
      const pb = p + (<usize>o << 2);
      const gb = g + (<usize>o << 2);
      const va = qAbsmax(v) + (bi << 2);
      if (mom != 0) rmspropBlock(pb, gb, vc + <usize>o, mc + <usize>o, sv, sm, va, qAbsmax(mom) + (bi << 2), len, rho, omr, lr, eps, mu, seed, <u32>o, true, f, pl);
      else rmspropBlock(pb, gb, vc + <usize>o, 0, sv, 0, va, 0, len, rho, omr, lr, eps, mu, seed, <u32>o, false, f, pl);
      bi++;
    }
  }
}
