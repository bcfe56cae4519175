// Adagrad with an 8-bit accumulator (quantize.ts, unsigned, stochastic rounding: late in training
// g^2 is a tiny fraction of the sum, which rounding to nearest would drop every step). Per block,
// dequantize into the slot's scratch, run Adagrad's own kernel (adagrad.ts), requantize. Blocks
// never straddle rows, so the sparse form requantizes only the touched rows' blocks.
import { adagrad } from './adagrad';
import { QBLOCK, qAbsmax, qCodes, qDequantBlock, qQuantBlock, qScratch } from './quantize';

// @ts-ignore: decorator
@inline
function adagradBlocks(p: usize, g: usize, acc: usize, codes: usize, off: i32, seg: i32, bi: usize, lr: f32, eps: f32, seed: u32): void {
  const sa = qScratch(acc);
  for (let b = 0; b < seg; b += QBLOCK) {
    const o = off + b;
    const len = min(QBLOCK, seg - b);
    const aa = qAbsmax(acc) + (bi << 2);
    qDequantBlock(codes + <usize>o, load<f32>(aa), sa, len, false);
    adagrad(p + (<usize>o << 2), g + (<usize>b << 2), sa, len, lr, eps);
    qQuantBlock(sa, codes + <usize>o, aa, len, false, true, seed, <u32>o);
    bi++;
  }
}

export function adagradInt8(p: usize, g: usize, acc: usize, n: i32, seg: i32, lr: f32, eps: f32, seed: u32): void {
  const codes = qCodes(acc, n, seg);
  const per = <usize>((seg + QBLOCK - 1) / QBLOCK);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    adagradBlocks(p, g + (<usize>s << 2), acc, codes, s, seg, bi, lr, eps, seed);
    bi += per;
  }
}

/** Row k of `vals` updates row rows[k] (indices unique and validated in TypeScript). */
export function adagradRowsInt8(p: usize, acc: usize, rows: usize, vals: usize, nRows: i32, rowSize: i32, n: i32, lr: f32, eps: f32, seed: u32): void {
  const codes = qCodes(acc, n, rowSize);
  const per = <usize>((rowSize + QBLOCK - 1) / QBLOCK);
  for (let k = 0; k < nRows; k++) {
    const row = load<i32>(rows + (<usize>k << 2));
    adagradBlocks(p, vals + <usize>k * (<usize>rowSize << 2), acc, codes, row * rowSize, rowSize, <usize>row * per, lr, eps, seed);
  }
}
