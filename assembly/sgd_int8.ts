// SGD with momentum and an 8-bit momentum slot (quantize.ts), one pass per block: the codes are
// decoded into registers, updated with SGD's own per-vector math (sgd.ts: sgdMomentumX4,
// sgdMomentumWX4), the weights stored and the new momentum kept in the slot's scratch while its
// absmax is reduced; then the block is encoded (to nearest: m moves by 1 - momentum). The partial
// 16-element tail (and the whole block on the scalar path) is decoded into the scratch and stepped
// by SGD's float32 kernel itself. The step pipeline folds in through `pl` (assembly/pipeline.ts).
import { sgdMomentum, sgdMomentumWX4, sgdMomentumX4 } from './sgd';
import { pipeFlags, pipeG, pipeStoreW, pipeW } from './pipeline';
import { QBLOCK, qAbsBits, qAbsmax, qCodes, qDecodeQ, qDequantBlock, qEncodeBlock, qScratch } from './quantize';
import { useSimd } from './simd';

/** One vector (q = 0..3 of 16 elements at offset o): weights stored, new m stored to the scratch and returned. */
// @ts-ignore: decorator
@inline
function sgdQuarter(p: usize, g: usize, sm: usize, o: usize, raw: v128, q: i32, mA: v128, vlr: v128, vmu: v128, nesterov: bool, f: i32, pl: usize): v128 {
  const oq = o + (<usize>q << 4);
  const glr = f32x4.mul(pipeG(v128.load(g + oq), f, pl), vlr);
  const mn = sgdMomentumX4(qDecodeQ(raw, q, mA, true), glr, vmu);
  pipeStoreW(p + oq, sgdMomentumWX4(pipeW(v128.load(p + oq), f, pl), mn, glr, vmu, nesterov), f, pl);
  v128.store(sm + oq, mn);
  return mn;
}

// @ts-ignore: decorator
@inline
function sgdBlock(p: usize, g: usize, mc: usize, sm: usize, ma: usize, len: i32, lr: f32, mu: f32, nesterov: bool, f: i32, pl: usize): void {
  const vlr = f32x4.splat(lr);
  const vmu = f32x4.splat(mu);
  const am = load<f32>(ma);
  const mA = f32x4.splat(am);
  const absMask = i32x4.splat(0x7fffffff);
  let mMax = i32x4.splat(0);
  const e = useSimd ? len & ~15 : 0;
  for (let i = 0; i < e; i += 16) {
    const raw = v128.load(mc + <usize>i);
    const o = <usize>i << 2;
    mMax = i32x4.max_s(mMax, v128.and(sgdQuarter(p, g, sm, o, raw, 0, mA, vlr, vmu, nesterov, f, pl), absMask));
    mMax = i32x4.max_s(mMax, v128.and(sgdQuarter(p, g, sm, o, raw, 1, mA, vlr, vmu, nesterov, f, pl), absMask));
    mMax = i32x4.max_s(mMax, v128.and(sgdQuarter(p, g, sm, o, raw, 2, mA, vlr, vmu, nesterov, f, pl), absMask));
    mMax = i32x4.max_s(mMax, v128.and(sgdQuarter(p, g, sm, o, raw, 3, mA, vlr, vmu, nesterov, f, pl), absMask));
  }
  if (e < len) {
    const o = <usize>e << 2;
    qDequantBlock(mc + <usize>e, am, sm + o, len - e, true);
    sgdMomentum(p + o, g + o, sm + o, len - e, lr, mu, nesterov, pl);
  }
  qEncodeBlock(sm, mc, ma, qAbsBits(mMax, sm, e, len), len, true, false, 0, 0);
}

export function sgdMomentumInt8(p: usize, g: usize, m: usize, n: i32, seg: i32, lr: f32, mu: f32, nesterov: bool, pl: usize): void {
  const f = pipeFlags(pl);
  const mc = qCodes(m, n, seg);
  const sm = qScratch(m);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      const len = min(QBLOCK, seg - b);
      const ma = qAbsmax(m) + (bi << 2);
      if (nesterov) sgdBlock(p + (<usize>o << 2), g + (<usize>o << 2), mc + <usize>o, sm, ma, len, lr, mu, true, f, pl);
      else sgdBlock(p + (<usize>o << 2), g + (<usize>o << 2), mc + <usize>o, sm, ma, len, lr, mu, false, f, pl);
      bi++;
    }
  }
}
