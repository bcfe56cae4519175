// Adagrad (Keras 3): acc += g^2; w -= lr*g / sqrt(acc + eps)   (eps inside the sqrt).
// adagradRows is the sparse form: only the rows of the gradient are read and written, in the variable
// and in the accumulator. Untouched rows would not change in the dense update (g = 0 there), so both
// forms give the same bits. The step pipeline (unscale, clip, decay, EMA) folds into the dense
// kernel through `pl` (assembly/pipeline.ts); the row form passes 0 (a sparse step takes the passes).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// The per-vector update, shared with the 8-bit kernel (adagrad_int8.ts): one definition of the math.
/** The new accumulator acc + g^2. */
// @ts-ignore: decorator
@inline
export function adagradAX4(ai: v128, gi: v128): v128 {
  return f32x4.add(ai, f32x4.mul(gi, gi));
}

/** w - lr*g / sqrt(acc + eps), with the new accumulator. */
// @ts-ignore: decorator
@inline
export function adagradWX4(wi: v128, gi: v128, ai: v128, vlr: v128, ve: v128): v128 {
  return f32x4.sub(wi, f32x4.div(f32x4.mul(vlr, gi), f32x4.sqrt(f32x4.add(ai, ve))));
}

export function adagrad(p: usize, g: usize, acc: usize, n: i32, lr: f32, eps: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const vlr = f32x4.splat(lr);
  const ve = f32x4.splat(eps);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const ai = adagradAX4(v128.load(acc + o), gi);
    v128.store(acc + o, ai);
    pipeStoreW(p + o, adagradWX4(pipeW(v128.load(p + o), f, pl), gi, ai, vlr, ve), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const ai = load<f32>(acc + o) + gi * gi;
    store<f32>(acc + o, ai);
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - (lr * gi) / sqrt<f32>(ai + eps), f, pl);
  }
}

/** Row r of `vals` updates row rows[r] of p and acc (indices unique and validated in TypeScript). */
export function adagradRows(p: usize, acc: usize, rows: usize, vals: usize, nRows: i32, rowSize: i32, lr: f32, eps: f32): void {
  const rowBytes = <usize>rowSize << 2;
  for (let r = 0; r < nRows; r++) {
    const off = <usize>load<i32>(rows + (<usize>r << 2)) * rowBytes;
    adagrad(p + off, vals + <usize>r * rowBytes, acc + off, rowSize, lr, eps, 0);
  }
}
