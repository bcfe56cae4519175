// AdEMAMix with 8-bit m1 (signed), m2 (signed) and nu (unsigned) (quantize.ts), one pass per block:
// the codes of the three slots are decoded into registers and updated with AdEMAMix's own
// per-vector math (ademamix.ts: ademamixEmaX4, ademamixNuX4, ademamixUX4, ademamixWX4, the
// functions of the float32 kernel); the weights are stored and the new moments kept in their slots'
// scratch (a block's codes need its new absmax, known only once the block is updated) while the
// absmaxes are reduced; then the three slots are encoded from the scratch. Rounding: m1 (1 - b1 =
// 10% a step) to nearest; m2 (1 - b3 = 0.01% a step) and nu (0.1%) are slow EMAs, rounded
// stochastically (docs/int8-state.md). The partial 16-element tail of a block (and the whole block
// on the scalar path) is decoded into the scratch and stepped by the float32 kernel itself. The step
// pipeline folds in through `pl` (assembly/pipeline.ts).
import { ademamix, ademamixEmaX4, ademamixNuX4, ademamixUX4, ademamixWX4 } from './ademamix';
import { pipeFlags, pipeG, pipeStoreW, pipeW } from './pipeline';
import { QBLOCK, qAbsBits, qAbsmax, qCodes, qDecode0, qDecode1, qDequantBlock, qEncodeBlock, qHalvesHigh, qHalvesLow, qScratch } from './quantize';
import { useSimd } from './simd';

// @ts-ignore: decorator
@inline
function block(
  p: usize, g: usize, c1: usize, c2: usize, cn: usize, s1: usize, s2: usize, sn: usize, a1p: usize, a2p: usize, anp: usize, len: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, omb3: f32, alpha: f32, bc1: f32, bc2: f32,
  eps: f32, epsRoot: f32, wd: f32, lr: f32, decay: bool, seed: u32, base: u32, f: i32, pl: usize,
): void {
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vomb2 = f32x4.splat(omb2);
  const vb3 = f32x4.splat(b3);
  const vomb3 = f32x4.splat(omb3);
  const valpha = f32x4.splat(alpha);
  const vbc1 = f32x4.splat(bc1);
  const vbc2 = f32x4.splat(bc2);
  const ve = f32x4.splat(eps);
  const ver = f32x4.splat(epsRoot);
  const vwd = f32x4.splat(wd);
  const vlr = f32x4.splat(lr);
  const a1 = load<f32>(a1p);
  const a2 = load<f32>(a2p);
  const an = load<f32>(anp);
  const A1 = f32x4.splat(a1);
  const A2 = f32x4.splat(a2);
  const An = f32x4.splat(an);
  const absMask = i32x4.splat(0x7fffffff);
  let max1 = i32x4.splat(0);
  let max2 = i32x4.splat(0);
  let maxn = i32x4.splat(0);
  const e = useSimd ? len & ~15 : 0;
  for (let i = 0; i < e; i += 16) {
    const r1 = v128.load(c1 + <usize>i);
    const r2 = v128.load(c2 + <usize>i);
    const rn = v128.load(cn + <usize>i);
    // Lanes 0-7 of the 16 codes (high halves of their floats), then 8-15; four vectors written out.
    let h1 = qHalvesLow(r1, true);
    let h2 = qHalvesLow(r2, true);
    let hn = qHalvesLow(rn, false);
    {
      const o = <usize>i << 2;
      const gi = pipeG(v128.load(g + o), f, pl);
      const a = ademamixEmaX4(gi, qDecode0(h1, A1), vb1, vomb1);
      const b = ademamixEmaX4(gi, qDecode0(h2, A2), vb3, vomb3);
      const v = ademamixNuX4(gi, qDecode0(hn, An), vb2, vomb2);
      pipeStoreW(p + o, ademamixWX4(pipeW(v128.load(p + o), f, pl), ademamixUX4(a, b, v, valpha, vbc1, vbc2, ver, ve), vwd, vlr, decay), f, pl);
      v128.store(s1 + o, a);
      v128.store(s2 + o, b);
      v128.store(sn + o, v);
      max1 = i32x4.max_s(max1, v128.and(a, absMask));
      max2 = i32x4.max_s(max2, v128.and(b, absMask));
      maxn = i32x4.max_s(maxn, v128.and(v, absMask));
    }
    {
      const o = (<usize>i << 2) + 16;
      const gi = pipeG(v128.load(g + o), f, pl);
      const a = ademamixEmaX4(gi, qDecode1(h1, A1), vb1, vomb1);
      const b = ademamixEmaX4(gi, qDecode1(h2, A2), vb3, vomb3);
      const v = ademamixNuX4(gi, qDecode1(hn, An), vb2, vomb2);
      pipeStoreW(p + o, ademamixWX4(pipeW(v128.load(p + o), f, pl), ademamixUX4(a, b, v, valpha, vbc1, vbc2, ver, ve), vwd, vlr, decay), f, pl);
      v128.store(s1 + o, a);
      v128.store(s2 + o, b);
      v128.store(sn + o, v);
      max1 = i32x4.max_s(max1, v128.and(a, absMask));
      max2 = i32x4.max_s(max2, v128.and(b, absMask));
      maxn = i32x4.max_s(maxn, v128.and(v, absMask));
    }
    h1 = qHalvesHigh(r1, true);
    h2 = qHalvesHigh(r2, true);
    hn = qHalvesHigh(rn, false);
    {
      const o = (<usize>i << 2) + 32;
      const gi = pipeG(v128.load(g + o), f, pl);
      const a = ademamixEmaX4(gi, qDecode0(h1, A1), vb1, vomb1);
      const b = ademamixEmaX4(gi, qDecode0(h2, A2), vb3, vomb3);
      const v = ademamixNuX4(gi, qDecode0(hn, An), vb2, vomb2);
      pipeStoreW(p + o, ademamixWX4(pipeW(v128.load(p + o), f, pl), ademamixUX4(a, b, v, valpha, vbc1, vbc2, ver, ve), vwd, vlr, decay), f, pl);
      v128.store(s1 + o, a);
      v128.store(s2 + o, b);
      v128.store(sn + o, v);
      max1 = i32x4.max_s(max1, v128.and(a, absMask));
      max2 = i32x4.max_s(max2, v128.and(b, absMask));
      maxn = i32x4.max_s(maxn, v128.and(v, absMask));
    }
    {
      const o = (<usize>i << 2) + 48;
      const gi = pipeG(v128.load(g + o), f, pl);
      const a = ademamixEmaX4(gi, qDecode1(h1, A1), vb1, vomb1);
      const b = ademamixEmaX4(gi, qDecode1(h2, A2), vb3, vomb3);
      const v = ademamixNuX4(gi, qDecode1(hn, An), vb2, vomb2);
      pipeStoreW(p + o, ademamixWX4(pipeW(v128.load(p + o), f, pl), ademamixUX4(a, b, v, valpha, vbc1, vbc2, ver, ve), vwd, vlr, decay), f, pl);
      v128.store(s1 + o, a);
      v128.store(s2 + o, b);
      v128.store(sn + o, v);
      max1 = i32x4.max_s(max1, v128.and(a, absMask));
      max2 = i32x4.max_s(max2, v128.and(b, absMask));
      maxn = i32x4.max_s(maxn, v128.and(v, absMask));
    }
  }
  if (e < len) {
    const o = <usize>e << 2;
    qDequantBlock(c1 + <usize>e, a1, s1 + o, len - e, true);
    qDequantBlock(c2 + <usize>e, a2, s2 + o, len - e, true);
    qDequantBlock(cn + <usize>e, an, sn + o, len - e, false);
    ademamix(p + o, g + o, s1 + o, s2 + o, sn + o, len - e, b1, omb1, b2, omb2, b3, omb3, alpha, bc1, bc2, eps, epsRoot, wd, lr, decay, pl);
  }
  qEncodeBlock(s1, c1, a1p, qAbsBits(max1, s1, e, len), len, true, false, 0, 0);
  qEncodeBlock(s2, c2, a2p, qAbsBits(max2, s2, e, len), len, true, true, seed, base);
  qEncodeBlock(sn, cn, anp, qAbsBits(maxn, sn, e, len), len, false, true, seed, base);
}

/**
 * AdEMAMix on n elements whose m1, m2 (signed) and nu (unsigned) are 8-bit slots in segments of
 * seg; the scalars as the float32 kernel's (ademamix), plus the step's rounding seed. `decay` stays
 * a runtime flag here (one copy of the block loop): a predictable branch per vector, next to two
 * divisions and a square root.
 */
export function ademamixInt8(
  p: usize, g: usize, m1: usize, m2: usize, nu: usize, n: i32, seg: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, omb3: f32, alpha: f32, bc1: f32, bc2: f32,
  eps: f32, epsRoot: f32, wd: f32, lr: f32, decay: bool, seed: u32, pl: usize,
): void {
  const f = pipeFlags(pl);
  const c1 = qCodes(m1, n, seg);
  const c2 = qCodes(m2, n, seg);
  const cn = qCodes(nu, n, seg);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      const at = bi << 2;
      block(
        p + (<usize>o << 2), g + (<usize>o << 2), c1 + <usize>o, c2 + <usize>o, cn + <usize>o, qScratch(m1), qScratch(m2), qScratch(nu),
        qAbsmax(m1) + at, qAbsmax(m2) + at, qAbsmax(nu) + at, min(QBLOCK, seg - b),
        b1, omb1, b2, omb2, b3, omb3, alpha, bc1, bc2, eps, epsRoot, wd, lr, decay, seed, <u32>o, f, pl,
      );
      bi++;
    }
  }
}
