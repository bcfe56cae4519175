// Adagrad with an 8-bit accumulator (quantize.ts, unsigned, stochastic rounding: late in training
// g^2 is a tiny fraction of the sum, which rounding to nearest would drop every step), one pass per
// block: the codes are decoded into registers, updated with Adagrad's own per-vector math
// (adagrad.ts: adagradAX4, adagradWX4), the weights stored and the new accumulator kept in the
// slot's scratch while its absmax is reduced; then the block is encoded. The partial 16-element
// tail (and the whole block on the scalar path) is decoded into the scratch and stepped by
// Adagrad's float32 kernel itself. Blocks never straddle rows, so the sparse form requantizes only
// the touched rows' blocks. The step pipeline folds into the dense step through `pl`
// (assembly/pipeline.ts); the row form passes 0.
import { pipeFlags, pipeG, pipeStoreW, pipeW } from './pipeline';
import { adagrad, adagradAX4, adagradWX4 } from './adagrad';
import { QBLOCK, qAbsBits, qAbsmax, qCodes, qDecodeQ, qDequantBlock, qEncodeBlock, qScratch } from './quantize';
import { useSimd } from './simd';

/** One vector (q = 0..3 of 16 elements at offset o): weights stored, new accumulator stored to the scratch and returned. */
// @ts-ignore: decorator
@inline
function adagradQuarter(p: usize, g: usize, sa: usize, o: usize, raw: v128, q: i32, aA: v128, vlr: v128, ve: v128, f: i32, pl: usize): v128 {
  const oq = o + (<usize>q << 4);
  const gi = pipeG(v128.load(g + oq), f, pl);
  const ai = adagradAX4(qDecodeQ(raw, q, aA, false), gi);
  v128.store(sa + oq, ai);
  pipeStoreW(p + oq, adagradWX4(pipeW(v128.load(p + oq), f, pl), gi, ai, vlr, ve), f, pl);
  return ai;
}

// Not inlined: one copy serves the dense and the sparse (row) steps.
function adagradBlocks(p: usize, g: usize, acc: usize, codes: usize, off: i32, seg: i32, bi: usize, lr: f32, eps: f32, seed: u32, pl: usize): void {
  const f = pipeFlags(pl);
  const sa = qScratch(acc);
  const vlr = f32x4.splat(lr);
  const ve = f32x4.splat(eps);
  const absMask = i32x4.splat(0x7fffffff);
  for (let b = 0; b < seg; b += QBLOCK) {
    const o = off + b;
    const len = min(QBLOCK, seg - b);
    const aa = qAbsmax(acc) + (bi << 2);
    const pb = p + (<usize>o << 2);
    const gb = g + (<usize>b << 2);
    const cb = codes + <usize>o;
    const a = load<f32>(aa);
    const aA = f32x4.splat(a);
    let aMax = i32x4.splat(0);
    const e = useSimd ? len & ~15 : 0;
    for (let i = 0; i < e; i += 16) {
      const raw = v128.load(cb + <usize>i);
      const oi = <usize>i << 2;
      aMax = i32x4.max_s(aMax, v128.and(adagradQuarter(pb, gb, sa, oi, raw, 0, aA, vlr, ve, f, pl), absMask));
      aMax = i32x4.max_s(aMax, v128.and(adagradQuarter(pb, gb, sa, oi, raw, 1, aA, vlr, ve, f, pl), absMask));
      aMax = i32x4.max_s(aMax, v128.and(adagradQuarter(pb, gb, sa, oi, raw, 2, aA, vlr, ve, f, pl), absMask));
      aMax = i32x4.max_s(aMax, v128.and(adagradQuarter(pb, gb, sa, oi, raw, 3, aA, vlr, ve, f, pl), absMask));
    }
    if (e < len) {
      const oe = <usize>e << 2;
      qDequantBlock(cb + <usize>e, a, sa + oe, len - e, false);
      adagrad(pb + oe, gb + oe, sa + oe, len - e, lr, eps, pl);
    }
    qEncodeBlock(sa, cb, aa, qAbsBits(aMax, sa, e, len), len, false, true, seed, <u32>o);
    bi++;
  }
}

export function adagradInt8(p: usize, g: usize, acc: usize, n: i32, seg: i32, lr: f32, eps: f32, seed: u32, pl: usize): void {
  const codes = qCodes(acc, n, seg);
  const per = <usize>((seg + QBLOCK - 1) / QBLOCK);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    adagradBlocks(p, g + (<usize>s << 2), acc, codes, s, seg, bi, lr, eps, seed, pl);
    bi += per;
  }
}

/** Row k of `vals` updates row rows[k] (indices unique and validated in TypeScript). */
export function adagradRowsInt8(p: usize, acc: usize, rows: usize, vals: usize, nRows: i32, rowSize: i32, n: i32, lr: f32, eps: f32, seed: u32): void {
  const codes = qCodes(acc, n, rowSize);
  const per = <usize>((rowSize + QBLOCK - 1) / QBLOCK);
  for (let k = 0; k < nRows; k++) {
    const row = load<i32>(rows + (<usize>k << 2));
    adagradBlocks(p, vals + <usize>k * (<usize>rowSize << 2), acc, codes, row * rowSize, rowSize, <usize>row * per, lr, eps, seed, 0);
  }
}
