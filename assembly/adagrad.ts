// Adagrad (Keras 3): acc += g^2; w -= lr*g / sqrt(acc + eps)   (eps inside the sqrt).
// adagradRows is the sparse form: only the rows of the gradient are read and written, in the variable
// and in the accumulator. Untouched rows would not change in the dense update (g = 0 there), so both
// forms give the same bits.
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

export function adagrad(p: usize, g: usize, acc: usize, n: i32, lr: f32, eps: f32): void {
  const vlr = f32x4.splat(lr);
  const ve = f32x4.splat(eps);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const ai = adagradAX4(v128.load(acc + o), gi);
    v128.store(acc + o, ai);
    v128.store(p + o, adagradWX4(v128.load(p + o), gi, ai, vlr, ve));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const ai = load<f32>(acc + o) + gi * gi;
    store<f32>(acc + o, ai);
    store<f32>(p + o, load<f32>(p + o) - (lr * gi) / sqrt<f32>(ai + eps));
  }
}

/** Row r of `vals` updates row rows[r] of p and acc (indices unique and validated in TypeScript). */
export function adagradRows(p: usize, acc: usize, rows: usize, vals: usize, nRows: i32, rowSize: i32, lr: f32, eps: f32): void {
  const rowBytes = <usize>rowSize << 2;
  for (let r = 0; r < nRows; r++) {
    const off = <usize>load<i32>(rows + (<usize>r << 2)) * rowBytes;
    adagrad(p + off, vals + <usize>r * rowBytes, acc + off, rowSize, lr, eps);
  }
}
