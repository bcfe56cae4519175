// Adam (and AdamW, LazyAdam) with 8-bit m and v (quantize.ts), one pass per block: the codes of m
// and v are decoded into registers and updated with Adam's own per-vector math (adam.ts: adamMX4,
// adamVX4, adamVhatX4, adamWX4, the functions of the float32 kernel); the weights are stored and
// the new m and v kept in their slots' scratch (a block's codes need its new absmax, known only
// once the block is updated) while the absmax is reduced; then both slots are encoded from the
// scratch. The partial 16-element tail of a block (and the whole block on the scalar path) is
// decoded into the scratch and stepped by Adam's float32 kernel itself. The weights and gradient
// are read and written once; the moments move as bytes.
import { adam, adamAmsgrad, adamMX4, adamVhatX4, adamVX4, adamWX4 } from './adam';
import { QBLOCK, qAbsBits, qAbsmax, qCodes, qDecode0, qDecode1, qDecodeQ, qDequantBlock, qEncodeBlock, qHalvesHigh, qHalvesLow, qScratch } from './quantize';
import { pipeFlags, pipeG, pipeStoreW, pipeW } from './pipeline';
import { useSimd } from './simd';

// @ts-ignore: decorator
@inline
function adamBlock(p: usize, g: usize, mc: usize, vc: usize, sm: usize, sv: usize, ma: usize, va: usize, len: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32, base: u32, f: i32, pl: usize): void {
  const c1 = f32x4.splat(omb1);
  const c2 = f32x4.splat(omb2);
  const vAl = f32x4.splat(alpha);
  const ve = f32x4.splat(eps);
  const am = load<f32>(ma);
  const av = load<f32>(va);
  const mA = f32x4.splat(am);
  const vA = f32x4.splat(av);
  const absMask = i32x4.splat(0x7fffffff);
  let mMax = i32x4.splat(0);
  let vMax = i32x4.splat(0);
  const e = useSimd ? len & ~15 : 0;
  for (let i = 0; i < e; i += 16) {
    const rm = v128.load(mc + <usize>i);
    const rv = v128.load(vc + <usize>i);
    const hm0 = qHalvesLow(rm, true);
    const hv0 = qHalvesLow(rv, false);
    const o = <usize>i << 2;
    let gi = pipeG(v128.load(g + o), f, pl);
    let mi = adamMX4(gi, qDecode0(hm0, mA), c1);
    let vi = adamVX4(gi, qDecode0(hv0, vA), c2);
    pipeStoreW(p + o, adamWX4(pipeW(v128.load(p + o), f, pl), mi, vi, vAl, ve), f, pl);
    v128.store(sm + o, mi);
    v128.store(sv + o, vi);
    mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
    vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
    gi = pipeG(v128.load(g + o + 16), f, pl);
    mi = adamMX4(gi, qDecode1(hm0, mA), c1);
    vi = adamVX4(gi, qDecode1(hv0, vA), c2);
    pipeStoreW(p + o + 16, adamWX4(pipeW(v128.load(p + o + 16), f, pl), mi, vi, vAl, ve), f, pl);
    v128.store(sm + o + 16, mi);
    v128.store(sv + o + 16, vi);
    mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
    vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
    const hm1 = qHalvesHigh(rm, true);
    const hv1 = qHalvesHigh(rv, false);
    gi = pipeG(v128.load(g + o + 32), f, pl);
    mi = adamMX4(gi, qDecode0(hm1, mA), c1);
    vi = adamVX4(gi, qDecode0(hv1, vA), c2);
    pipeStoreW(p + o + 32, adamWX4(pipeW(v128.load(p + o + 32), f, pl), mi, vi, vAl, ve), f, pl);
    v128.store(sm + o + 32, mi);
    v128.store(sv + o + 32, vi);
    mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
    vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
    gi = pipeG(v128.load(g + o + 48), f, pl);
    mi = adamMX4(gi, qDecode1(hm1, mA), c1);
    vi = adamVX4(gi, qDecode1(hv1, vA), c2);
    pipeStoreW(p + o + 48, adamWX4(pipeW(v128.load(p + o + 48), f, pl), mi, vi, vAl, ve), f, pl);
    v128.store(sm + o + 48, mi);
    v128.store(sv + o + 48, vi);
    mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
    vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
  }
  if (e < len) {
    const o = <usize>e << 2;
    qDequantBlock(mc + <usize>e, am, sm + o, len - e, true);
    qDequantBlock(vc + <usize>e, av, sv + o, len - e, false);
    adam(p + o, g + o, sm + o, sv + o, len - e, omb1, omb2, alpha, eps, pl);
  }
  qEncodeBlock(sm, mc, ma, qAbsBits(mMax, sm, e, len), len, true, false, 0, 0);
  qEncodeBlock(sv, vc, va, qAbsBits(vMax, sv, e, len), len, false, true, seed, base);
}

// Not inlined: one copy serves the dense and the sparse (row) steps.
function adamBlocks(p: usize, g: usize, gStride: usize, m: usize, v: usize, mc: usize, vc: usize, mAbs: usize, vAbs: usize, off: i32, seg: i32, bi: usize, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32, pl: usize): void {
  const f = pipeFlags(pl);
  const sm = qScratch(m);
  const sv = qScratch(v);
  for (let b = 0; b < seg; b += QBLOCK) {
    const o = off + b;
    adamBlock(p + (<usize>o << 2), g + (<usize>b << 2) + gStride, mc + <usize>o, vc + <usize>o, sm, sv, mAbs + (bi << 2), vAbs + (bi << 2), min(QBLOCK, seg - b), omb1, omb2, alpha, eps, seed, <u32>o, f, pl);
    bi++;
  }
}

/** Adam on n elements whose m (signed) and v (unsigned) are 8-bit slots in segments of seg. */
export function adamInt8(p: usize, g: usize, m: usize, v: usize, n: i32, seg: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32, pl: usize): void {
  const mc = qCodes(m, n, seg);
  const vc = qCodes(v, n, seg);
  const per = <usize>((seg + QBLOCK - 1) / QBLOCK);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    adamBlocks(p, g, <usize>s << 2, m, v, mc, vc, qAbsmax(m), qAbsmax(v), s, seg, bi, omb1, omb2, alpha, eps, seed, pl);
    bi += per;
  }
}

// @ts-ignore: decorator
@inline
function amsgradBlock(p: usize, g: usize, mc: usize, vc: usize, hc: usize, sm: usize, sv: usize, sh: usize, ma: usize, va: usize, ha: usize, len: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32, base: u32, f: i32, pl: usize): void {
  const c1 = f32x4.splat(omb1);
  const c2 = f32x4.splat(omb2);
  const vAl = f32x4.splat(alpha);
  const ve = f32x4.splat(eps);
  const am = load<f32>(ma);
  const av = load<f32>(va);
  const ah = load<f32>(ha);
  const mA = f32x4.splat(am);
  const vA = f32x4.splat(av);
  const hA = f32x4.splat(ah);
  const absMask = i32x4.splat(0x7fffffff);
  let mMax = i32x4.splat(0);
  let vMax = i32x4.splat(0);
  let hMax = i32x4.splat(0);
  const e = useSimd ? len & ~15 : 0;
  for (let i = 0; i < e; i += 16) {
    const rm = v128.load(mc + <usize>i);
    const rv = v128.load(vc + <usize>i);
    const rh = v128.load(hc + <usize>i);
    // The four vectors of the 16 codes, written out (q must be a constant for qDecodeQ).
    {
      const o = <usize>i << 2;
      const gi = pipeG(v128.load(g + o), f, pl);
      const mi = adamMX4(gi, qDecodeQ(rm, 0, mA, true), c1);
      const vi = adamVX4(gi, qDecodeQ(rv, 0, vA, false), c2);
      const hi = adamVhatX4(qDecodeQ(rh, 0, hA, false), vi);
      pipeStoreW(p + o, adamWX4(pipeW(v128.load(p + o), f, pl), mi, hi, vAl, ve), f, pl);
      v128.store(sm + o, mi);
      v128.store(sv + o, vi);
      v128.store(sh + o, hi);
      mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
      vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
      hMax = i32x4.max_s(hMax, v128.and(hi, absMask));
    }
    {
      const o = (<usize>i << 2) + 16;
      const gi = pipeG(v128.load(g + o), f, pl);
      const mi = adamMX4(gi, qDecodeQ(rm, 1, mA, true), c1);
      const vi = adamVX4(gi, qDecodeQ(rv, 1, vA, false), c2);
      const hi = adamVhatX4(qDecodeQ(rh, 1, hA, false), vi);
      pipeStoreW(p + o, adamWX4(pipeW(v128.load(p + o), f, pl), mi, hi, vAl, ve), f, pl);
      v128.store(sm + o, mi);
      v128.store(sv + o, vi);
      v128.store(sh + o, hi);
      mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
      vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
      hMax = i32x4.max_s(hMax, v128.and(hi, absMask));
    }
    {
      const o = (<usize>i << 2) + 32;
      const gi = pipeG(v128.load(g + o), f, pl);
      const mi = adamMX4(gi, qDecodeQ(rm, 2, mA, true), c1);
      const vi = adamVX4(gi, qDecodeQ(rv, 2, vA, false), c2);
      const hi = adamVhatX4(qDecodeQ(rh, 2, hA, false), vi);
      pipeStoreW(p + o, adamWX4(pipeW(v128.load(p + o), f, pl), mi, hi, vAl, ve), f, pl);
      v128.store(sm + o, mi);
      v128.store(sv + o, vi);
      v128.store(sh + o, hi);
      mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
      vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
      hMax = i32x4.max_s(hMax, v128.and(hi, absMask));
    }
    {
      const o = (<usize>i << 2) + 48;
      const gi = pipeG(v128.load(g + o), f, pl);
      const mi = adamMX4(gi, qDecodeQ(rm, 3, mA, true), c1);
      const vi = adamVX4(gi, qDecodeQ(rv, 3, vA, false), c2);
      const hi = adamVhatX4(qDecodeQ(rh, 3, hA, false), vi);
      pipeStoreW(p + o, adamWX4(pipeW(v128.load(p + o), f, pl), mi, hi, vAl, ve), f, pl);
      v128.store(sm + o, mi);
      v128.store(sv + o, vi);
      v128.store(sh + o, hi);
      mMax = i32x4.max_s(mMax, v128.and(mi, absMask));
      vMax = i32x4.max_s(vMax, v128.and(vi, absMask));
      hMax = i32x4.max_s(hMax, v128.and(hi, absMask));
    }
  }
  if (e < len) {
    const o = <usize>e << 2;
    qDequantBlock(mc + <usize>e, am, sm + o, len - e, true);
    qDequantBlock(vc + <usize>e, av, sv + o, len - e, false);
    qDequantBlock(hc + <usize>e, ah, sh + o, len - e, false);
    adamAmsgrad(p + o, g + o, sm + o, sv + o, sh + o, len - e, omb1, omb2, alpha, eps, pl);
  }
  qEncodeBlock(sm, mc, ma, qAbsBits(mMax, sm, e, len), len, true, false, 0, 0);
  qEncodeBlock(sv, vc, va, qAbsBits(vMax, sv, e, len), len, false, true, seed, base);
  qEncodeBlock(sh, hc, ha, qAbsBits(hMax, sh, e, len), len, false, true, seed, base);
}

/** AMSGrad: vhat is a third (unsigned) 8-bit slot. */
export function adamAmsgradInt8(p: usize, g: usize, m: usize, v: usize, vh: usize, n: i32, seg: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32, pl: usize): void {
  const f = pipeFlags(pl);
  const mc = qCodes(m, n, seg);
  const vc = qCodes(v, n, seg);
  const hc = qCodes(vh, n, seg);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      amsgradBlock(p + (<usize>o << 2), g + (<usize>o << 2), mc + <usize>o, vc + <usize>o, hc + <usize>o, qScratch(m), qScratch(v), qScratch(vh), qAbsmax(m) + (bi << 2), qAbsmax(v) + (bi << 2), qAbsmax(vh) + (bi << 2), min(QBLOCK, seg - b), omb1, omb2, alpha, eps, seed, <u32>o, f, pl);
      bi++;
    }
  }
}

/**
 * LazyAdam's sparse step: for k < nRows, row = rows[k], Adam on that row's blocks only (the slots
 * are laid out one segment per row), with the gradient row g[k].
 */
export function lazyAdamRowsInt8(p: usize, g: usize, m: usize, v: usize, rows: usize, nRows: i32, rowSize: i32, n: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32): void {
  const mc = qCodes(m, n, rowSize);
  const vc = qCodes(v, n, rowSize);
  const per = <usize>((rowSize + QBLOCK - 1) / QBLOCK);
  for (let k = 0; k < nRows; k++) {
    const row = load<i32>(rows + (<usize>k << 2));
    const gRow = g + <usize>k * (<usize>rowSize << 2);
    adamBlocks(p, gRow, 0, m, v, mc, vc, qAbsmax(m), qAbsmax(v), row * rowSize, rowSize, <usize>row * per, omb1, omb2, alpha, eps, seed, 0);
  }
}
