// Adan with its four slots in 8 bits (quantize.ts), one pass per block: m (EMA of g), v (EMA of the
// gradient differences) and the previous gradient are signed, n (EMA of the squared Nesterov term)
// unsigned. The codes of the four slots are decoded into registers and updated with Adan's own
// per-vector math (adan.ts: adanMX4, adanVX4, adanNX4, adanWX4, the functions of the float32
// kernel); the weights are stored and the new m, v, n and gradient kept in their slots' scratch
// (a block's codes need its new absmax, known only once the block is updated) while the absmaxes
// are reduced; then each slot's block is encoded from its scratch. The partial 16-element tail of
// a block (and the whole block on the scalar path) is decoded into the scratch and stepped by
// Adan's float32 kernel itself. The step pipeline folds in through `pl` (assembly/pipeline.ts);
// the stored gradient is the one the update saw, as in the float32 kernel.
// Rounding (measured in docs/int8-state.md): m, v and n are EMAs (m and n move 2% and 1% a step by
// default, less than half a code step) and round stochastically; the previous gradient is replaced
// each step, not accumulated, and rounds to nearest.
import { adan, adanMX4, adanNX4, adanVX4, adanWX4 } from './adan';
import { pipeFlags, pipeG, pipeStoreW, pipeW } from './pipeline';
import { QBLOCK, qAbsBits, qAbsmax, qCodes, qDecode0, qDecode1, qDequantBlock, qEncodeBlock, qHalvesHigh, qHalvesLow, qScratch } from './quantize';
import { useSimd } from './simd';

// @ts-ignore: decorator
@inline
function adanBlocks(
  p: usize, g: usize, m: usize, v: usize, nn: usize, gp: usize, n: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, omb3: f32, bc1: f32, bc2: f32, bc3: f32,
  eps: f32, epsRoot: f32, wd: f32, lr: f32, first: bool, decay: bool, seed: u32, pl: usize,
): void {
  const f = pipeFlags(pl);
  const mc = qCodes(m, n, n);
  const vc = qCodes(v, n, n);
  const nc = qCodes(nn, n, n);
  const gc = qCodes(gp, n, n);
  const sm = qScratch(m);
  const sv = qScratch(v);
  const sn = qScratch(nn);
  const sg = qScratch(gp);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vomb2 = f32x4.splat(omb2);
  const vb3 = f32x4.splat(b3);
  const vomb3 = f32x4.splat(omb3);
  const vbc1 = f32x4.splat(bc1);
  const vbc2 = f32x4.splat(bc2);
  const vbc3 = f32x4.splat(bc3);
  const ve = f32x4.splat(eps);
  const ver = f32x4.splat(epsRoot);
  const vwd = f32x4.splat(wd);
  const vlr = f32x4.splat(lr);
  const absMask = i32x4.splat(0x7fffffff);
  const zero = f32x4.splat(0); // the first update's difference (optax's t == 0), whatever the slot holds
  let bi: usize = 0;
  for (let o = 0; o < n; o += QBLOCK) {
    const len = min(QBLOCK, n - o);
    const ma = qAbsmax(m) + (bi << 2);
    const va = qAbsmax(v) + (bi << 2);
    const na = qAbsmax(nn) + (bi << 2);
    const ga = qAbsmax(gp) + (bi << 2);
    const pb = p + (<usize>o << 2);
    const gb = g + (<usize>o << 2);
    const am = load<f32>(ma);
    const av = load<f32>(va);
    const an = load<f32>(na);
    const ag = load<f32>(ga);
    const mA = f32x4.splat(am);
    const vA = f32x4.splat(av);
    const nA = f32x4.splat(an);
    const gA = f32x4.splat(ag);
    let mMax = i32x4.splat(0);
    let vMax = i32x4.splat(0);
    let nMax = i32x4.splat(0);
    let gMax = i32x4.splat(0);
    const e = useSimd ? len & ~15 : 0;
    for (let i = 0; i < e; i += 16) {
      const ci = <usize>(o + i);
      const rm = v128.load(mc + ci);
      const rv = v128.load(vc + ci);
      const rn = v128.load(nc + ci);
      const rg = v128.load(gc + ci);
      const oi = <usize>i << 2;
      // The four vectors of the 16 codes, written out (the decoding shuffles take constant lanes):
      // the high halves of each slot's codes once per 8, then per vector the update, the weight
      // stored, the new values to the scratches and into the absmaxes.
      const hm0 = qHalvesLow(rm, true);
      const hv0 = qHalvesLow(rv, true);
      const hn0 = qHalvesLow(rn, false);
      const hg0 = qHalvesLow(rg, true);
      {
        const oq = oi + 0;
        const gi = pipeG(v128.load(gb + oq), f, pl);
        const d = first ? zero : f32x4.sub(gi, qDecode0(hg0, gA));
        const mi = adanMX4(gi, qDecode0(hm0, mA), vb1, vomb1);
        const vi = adanVX4(d, qDecode0(hv0, vA), vb2, vomb2);
        const ni = adanNX4(gi, d, qDecode0(hn0, nA), vomb2, vb3, vomb3);
        pipeStoreW(pb + oq, adanWX4(pipeW(v128.load(pb + oq), f, pl), mi, vi, ni, vomb2, vbc1, vbc2, vbc3, ve, ver, vwd, vlr, decay), f, pl);
        v128.store(sm + oq, mi);
        v128.store(sv + oq, vi);
        v128.store(sn + oq, ni);
        v128.store(sg + oq, gi);
        mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
        vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
        nMax = i32x4.max_s(nMax, v128.and(ni, absMask));
        gMax = i32x4.max_s(gMax, v128.and(gi, absMask));
      }
      {
        const oq = oi + 16;
        const gi = pipeG(v128.load(gb + oq), f, pl);
        const d = first ? zero : f32x4.sub(gi, qDecode1(hg0, gA));
        const mi = adanMX4(gi, qDecode1(hm0, mA), vb1, vomb1);
        const vi = adanVX4(d, qDecode1(hv0, vA), vb2, vomb2);
        const ni = adanNX4(gi, d, qDecode1(hn0, nA), vomb2, vb3, vomb3);
        pipeStoreW(pb + oq, adanWX4(pipeW(v128.load(pb + oq), f, pl), mi, vi, ni, vomb2, vbc1, vbc2, vbc3, ve, ver, vwd, vlr, decay), f, pl);
        v128.store(sm + oq, mi);
        v128.store(sv + oq, vi);
        v128.store(sn + oq, ni);
        v128.store(sg + oq, gi);
        mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
        vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
        nMax = i32x4.max_s(nMax, v128.and(ni, absMask));
        gMax = i32x4.max_s(gMax, v128.and(gi, absMask));
      }
      const hm1 = qHalvesHigh(rm, true);
      const hv1 = qHalvesHigh(rv, true);
      const hn1 = qHalvesHigh(rn, false);
      const hg1 = qHalvesHigh(rg, true);
      {
        const oq = oi + 32;
        const gi = pipeG(v128.load(gb + oq), f, pl);
        const d = first ? zero : f32x4.sub(gi, qDecode0(hg1, gA));
        const mi = adanMX4(gi, qDecode0(hm1, mA), vb1, vomb1);
        const vi = adanVX4(d, qDecode0(hv1, vA), vb2, vomb2);
        const ni = adanNX4(gi, d, qDecode0(hn1, nA), vomb2, vb3, vomb3);
        pipeStoreW(pb + oq, adanWX4(pipeW(v128.load(pb + oq), f, pl), mi, vi, ni, vomb2, vbc1, vbc2, vbc3, ve, ver, vwd, vlr, decay), f, pl);
        v128.store(sm + oq, mi);
        v128.store(sv + oq, vi);
        v128.store(sn + oq, ni);
        v128.store(sg + oq, gi);
        mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
        vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
        nMax = i32x4.max_s(nMax, v128.and(ni, absMask));
        gMax = i32x4.max_s(gMax, v128.and(gi, absMask));
      }
      {
        const oq = oi + 48;
        const gi = pipeG(v128.load(gb + oq), f, pl);
        const d = first ? zero : f32x4.sub(gi, qDecode1(hg1, gA));
        const mi = adanMX4(gi, qDecode1(hm1, mA), vb1, vomb1);
        const vi = adanVX4(d, qDecode1(hv1, vA), vb2, vomb2);
        const ni = adanNX4(gi, d, qDecode1(hn1, nA), vomb2, vb3, vomb3);
        pipeStoreW(pb + oq, adanWX4(pipeW(v128.load(pb + oq), f, pl), mi, vi, ni, vomb2, vbc1, vbc2, vbc3, ve, ver, vwd, vlr, decay), f, pl);
        v128.store(sm + oq, mi);
        v128.store(sv + oq, vi);
        v128.store(sn + oq, ni);
        v128.store(sg + oq, gi);
        mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
        vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
        nMax = i32x4.max_s(nMax, v128.and(ni, absMask));
        gMax = i32x4.max_s(gMax, v128.and(gi, absMask));
      }
    }
    if (e < len) {
      const oe = <usize>e << 2;
      const ce = <usize>(o + e);
      qDequantBlock(mc + ce, am, sm + oe, len - e, true);
      qDequantBlock(vc + ce, av, sv + oe, len - e, true);
      qDequantBlock(nc + ce, an, sn + oe, len - e, false);
      qDequantBlock(gc + ce, ag, sg + oe, len - e, true);
      adan(pb + oe, gb + oe, sm + oe, sv + oe, sn + oe, sg + oe, len - e, b1, omb1, b2, omb2, b3, omb3, bc1, bc2, bc3, eps, epsRoot, wd, lr, first, decay, pl);
    }
    const base = <u32>o;
    qEncodeBlock(sm, mc + <usize>o, ma, qAbsBits(mMax, sm, e, len), len, true, true, seed, base);
    qEncodeBlock(sv, vc + <usize>o, va, qAbsBits(vMax, sv, e, len), len, true, true, seed, base);
    qEncodeBlock(sn, nc + <usize>o, na, qAbsBits(nMax, sn, e, len), len, false, true, seed, base);
    qEncodeBlock(sg, gc + <usize>o, ga, qAbsBits(gMax, sg, e, len), len, true, false, 0, 0);
    bi++;
  }
}

/**
 * Adan on n elements whose m, v, n (`nn`) and previous gradient (`gp`) are 8-bit slots of one
 * segment (the variable); the scalars as adan's, `seed` the step's stochastic rounding.
 */
export function adanInt8(
  p: usize, g: usize, m: usize, v: usize, nn: usize, gp: usize, n: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, omb3: f32, bc1: f32, bc2: f32, bc3: f32,
  eps: f32, epsRoot: f32, wd: f32, lr: f32, first: bool, decay: bool, seed: u32, pl: usize,
): void {
  // Specialised as the float32 kernel is: the flags are constants in each copy of the loop.
  if (decay) adanBlocks(p, g, m, v, nn, gp, n, b1, omb1, b2, omb2, b3, omb3, bc1, bc2, bc3, eps, epsRoot, wd, lr, first, true, seed, pl);
  else adanBlocks(p, g, m, v, nn, gp, n, b1, omb1, b2, omb2, b3, omb3, bc1, bc2, bc3, eps, epsRoot, wd, lr, first, false, seed, pl);
}
