// Adam (and AdamW, LazyAdam) with 8-bit m and v (quantize.ts): per block, dequantize m and v into
// their slots' scratch, run Adam's own kernel (adam.ts) on the block, requantize. The weights and
// gradient are read and written once; the moments move as bytes.
import { adam, adamAmsgrad } from './adam';
import { QBLOCK, qAbsmax, qCodes, qDequantBlock, qQuantBlock, qScratch } from './quantize';

// @ts-ignore: decorator
@inline
function adamBlocks(p: usize, g: usize, gStride: usize, m: usize, v: usize, mc: usize, vc: usize, mAbs: usize, vAbs: usize, off: i32, seg: i32, bi: usize, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32): void {
  const sm = qScratch(m);
  const sv = qScratch(v);
  for (let b = 0; b < seg; b += QBLOCK) {
    const o = off + b;
    const len = min(QBLOCK, seg - b);
    const ma = mAbs + (bi << 2);
    const va = vAbs + (bi << 2);
    qDequantBlock(mc + <usize>o, load<f32>(ma), sm, len, true);
    qDequantBlock(vc + <usize>o, load<f32>(va), sv, len, false);
    adam(p + (<usize>o << 2), g + (<usize>b << 2) + gStride, sm, sv, len, omb1, omb2, alpha, eps);
    qQuantBlock(sm, mc + <usize>o, ma, len, true, false, 0, 0);
    qQuantBlock(sv, vc + <usize>o, va, len, false, true, seed, <u32>o);
    bi++;
  }
}

/** Adam on n elements whose m (signed) and v (unsigned) are 8-bit slots in segments of seg. */
export function adamInt8(p: usize, g: usize, m: usize, v: usize, n: i32, seg: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32): void {
  const mc = qCodes(m, n, seg);
  const vc = qCodes(v, n, seg);
  const per = <usize>((seg + QBLOCK - 1) / QBLOCK);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    adamBlocks(p, g, <usize>s << 2, m, v, mc, vc, qAbsmax(m), qAbsmax(v), s, seg, bi, omb1, omb2, alpha, eps, seed);
    bi += per;
  }
}

/** AMSGrad: vhat is a third (unsigned) 8-bit slot. */
export function adamAmsgradInt8(p: usize, g: usize, m: usize, v: usize, vh: usize, n: i32, seg: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, seed: u32): void {
  const mc = qCodes(m, n, seg);
  const vc = qCodes(v, n, seg);
  const hc = qCodes(vh, n, seg);
  const sm = qScratch(m);
  const sv = qScratch(v);
  const sh = qScratch(vh);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      const len = min(QBLOCK, seg - b);
      const ma = qAbsmax(m) + (bi << 2);
      const va = qAbsmax(v) + (bi << 2);
      const ha = qAbsmax(vh) + (bi << 2);
      qDequantBlock(mc + <usize>o, load<f32>(ma), sm, len, true);
      qDequantBlock(vc + <usize>o, load<f32>(va), sv, len, false);
      qDequantBlock(hc + <usize>o, load<f32>(ha), sh, len, false);
      adamAmsgrad(p + (<usize>o << 2), g + (<usize>o << 2), sm, sv, sh, len, omb1, omb2, alpha, eps);
      qQuantBlock(sm, mc + <usize>o, ma, len, true, false, 0, 0);
      qQuantBlock(sv, vc + <usize>o, va, len, false, true, seed, <u32>o);
      qQuantBlock(sh, hc + <usize>o, ha, len, false, true, seed, <u32>o);
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
    adamBlocks(p, gRow, 0, m, v, mc, vc, qAbsmax(m), qAbsmax(v), row * rowSize, rowSize, <usize>row * per, omb1, omb2, alpha, eps, seed);
  }
}
