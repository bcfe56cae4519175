// LazyAdam (TensorFlow Addons) for sparse gradients: only the touched rows' m, v and weights
// move, each by exactly Adam's rule, so this is Adam's kernel run row by row (the math stays in
// adam.ts). Time is proportional to the rows touched, not to the table. Dense gradients use `adam`.
import { adam } from './adam';

/**
 * For k < nRows, with row = rows[k]: Adam on p/m/v's row `row` with the gradient row g[k].
 * rows are unique and in range (checked in TypeScript); alpha carries the bias corrections.
 */
export function lazyAdamRows(p: usize, g: usize, m: usize, v: usize, rows: usize, nRows: i32, rowSize: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32): void {
  const rowBytes = <usize>rowSize << 2;
  for (let k = 0; k < nRows; k++) {
    const off = <usize>load<i32>(rows + (<usize>k << 2)) * rowBytes;
    adam(p + off, g + <usize>k * rowBytes, m + off, v + off, rowSize, omb1, omb2, alpha, eps, 0);
  }
}
