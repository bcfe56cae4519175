// Lion with an 8-bit momentum slot (quantize.ts), one pass per block: the codes are decoded into
// registers, updated with Lion's own per-vector math (lion.ts: lionWX4, lionMX4), the weights
// stored and the new momentum kept in the slot's scratch while its absmax is reduced; then the
// block is encoded stochastically (the momentum is a slow EMA: it moves by 1 - beta2, 1% a step by
// default, less than half a code step). The partial 16-element tail (and the whole block on the
// scalar path) is decoded into the scratch and stepped by Lion's float32 kernel itself. The step
// pipeline folds in through `pl` (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeStoreW, pipeW } from './pipeline';
import { lion, lionMX4, lionWX4 } from './lion';
import { QBLOCK, qAbsBits, qAbsmax, qCodes, qDecodeQ, qDequantBlock, qEncodeBlock, qScratch } from './quantize';
import { useSimd } from './simd';

/** One vector (q = 0..3 of 16 elements at offset o): weights stored, new m stored to the scratch and returned. */
// @ts-ignore: decorator
@inline
function lionQuarter(p: usize, g: usize, sm: usize, o: usize, raw: v128, q: i32, mA: v128, vb1: v128, vomb1: v128, vb2: v128, vomb2: v128, vlr: v128, f: i32, pl: usize): v128 {
  const oq = o + (<usize>q << 4);
  const gi = pipeG(v128.load(g + oq), f, pl);
  const mi = qDecodeQ(raw, q, mA, true);
  pipeStoreW(p + oq, lionWX4(pipeW(v128.load(p + oq), f, pl), mi, gi, vb1, vomb1, vlr), f, pl);
  const mn = lionMX4(mi, gi, vb2, vomb2);
  v128.store(sm + oq, mn);
  return mn;
}

export function lionInt8(p: usize, g: usize, m: usize, n: i32, seg: i32, b1: f32, omb1: f32, b2: f32, omb2: f32, lr: f32, seed: u32, pl: usize): void {
  const f = pipeFlags(pl);
  const mc = qCodes(m, n, seg);
  const sm = qScratch(m);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vomb2 = f32x4.splat(omb2);
  const vlr = f32x4.splat(lr);
  const absMask = i32x4.splat(0x7fffffff);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      const len = min(QBLOCK, seg - b);
      const ma = qAbsmax(m) + (bi << 2);
      const pb = p + (<usize>o << 2);
      const gb = g + (<usize>o << 2);
      const cb = mc + <usize>o;
      const am = load<f32>(ma);
      const mA = f32x4.splat(am);
      let mMax = i32x4.splat(0);
      const e = useSimd ? len & ~15 : 0;
      for (let i = 0; i < e; i += 16) {
        const raw = v128.load(cb + <usize>i);
        const oi = <usize>i << 2;
        mMax = i32x4.max_s(mMax, v128.and(lionQuarter(pb, gb, sm, oi, raw, 0, mA, vb1, vomb1, vb2, vomb2, vlr, f, pl), absMask));
        mMax = i32x4.max_s(mMax, v128.and(lionQuarter(pb, gb, sm, oi, raw, 1, mA, vb1, vomb1, vb2, vomb2, vlr, f, pl), absMask));
        mMax = i32x4.max_s(mMax, v128.and(lionQuarter(pb, gb, sm, oi, raw, 2, mA, vb1, vomb1, vb2, vomb2, vlr, f, pl), absMask));
        mMax = i32x4.max_s(mMax, v128.and(lionQuarter(pb, gb, sm, oi, raw, 3, mA, vb1, vomb1, vb2, vomb2, vlr, f, pl), absMask));
      }
      if (e < len) {
        const oe = <usize>e << 2;
        qDequantBlock(cb + <usize>e, am, sm + oe, len - e, true);
        lion(pb + oe, gb + oe, sm + oe, len - e, b1, omb1, b2, omb2, lr, pl);
      }
      qEncodeBlock(sm, cb, ma, qAbsBits(mMax, sm, e, len), len, true, true, seed, <u32>o);
      bi++;
    }
  }
}
