// Elementwise primitives shared by the optimizer base class (clipping, decay, EMA, accumulation,
// sparse densification) and exported to users as `kernels.*`. Pointers are byte offsets into the
// imported linear memory; n counts float32 elements. Nothing here allocates.
import { pipeFlags, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

/** dst[i] = a * src[i] (dst may equal src). */
export function scaleCopy(dst: usize, src: usize, n: i32, a: f32): void {
  const va = f32x4.splat(a);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.mul(v128.load(src + o), va));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(src + o) * a);
  }
}

/** dst[i] = src[i] / d (dst may equal src): Keras unscales by dividing, which a reciprocal multiply does not match. */
export function divCopy(dst: usize, src: usize, n: i32, d: f32): void {
  const vd = f32x4.splat(d);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.div(v128.load(src + o), vd));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(src + o) / d);
  }
}

/** y[i] += a * x[i]. */
export function axpy(y: usize, x: usize, n: i32, a: f32): void {
  const va = f32x4.splat(a);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(v128.load(x + o), va)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + load<f32>(x + o) * a);
  }
}

/** x[i] = v. */
export function fill(x: usize, n: i32, v: f32): void {
  const vv = f32x4.splat(v);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) v128.store(x + (<usize>i << 2), vv);
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), v);
}

/** Copies n floats (memmove semantics). */
export function copy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

/**
 * Elements per block of sumSquares. A long array is summed block by block, each block from zero,
 * and the block sums are added in order, so that a threaded caller (src/threads.ts) that hands
 * whole blocks to different threads gets the same bits as this single call, for any thread count.
 */
const SUM_BLOCK: i32 = 65536;

export function sumSquaresBlock(): i32 {
  return SUM_BLOCK;
}

/**
 * Sum of squares accumulated in f64 so the norm used for clipping does not depend on the path
 * (SIMD or scalar) or on the tensor size; blocks of SUM_BLOCK elements are added in order. With a
 * pipeline record `pl` (assembly/pipeline.ts) x are weights seen through its decay, read only:
 * Lamb's and Adafactor's ||w|| after the decay their fused apply pass will write.
 */
export function sumSquares(x: usize, n: i32, pl: usize): f64 {
  const f = pipeFlags(pl);
  let total: f64 = 0;
  for (let b = 0; b < n; b += SUM_BLOCK) total += sumSquaresOne(x + (<usize>b << 2), min(SUM_BLOCK, n - b), f, pl);
  return total;
}

// @ts-ignore: decorator
@inline
function sumSquaresOne(x: usize, n: i32, f: i32, pl: usize): f64 {
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const v = pipeW(v128.load(x + (<usize>i << 2)), f, pl);
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.swizzle(v, i8x16(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)));
    acc0 = f64x2.add(acc0, f64x2.mul(lo, lo));
    acc1 = f64x2.add(acc1, f64x2.mul(hi, hi));
  }
  const s = f64x2.add(acc0, acc1);
  let acc = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < n; i++) {
    const v = <f64>pipeW1(load<f32>(x + (<usize>i << 2)), f, pl);
    acc += v * v;
  }
  return acc;
}

/** 1 when every element is finite, 0 otherwise (x - x is 0 only for finite x). */
export function allFinite(x: usize, n: i32): i32 {
  const zero = f32x4.splat(0);
  let bad = i32x4.splat(0);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    bad = v128.or(bad, f32x4.ne(f32x4.sub(v, v), zero));
  }
  if (v128.any_true(bad)) return 0;
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v - v != 0) return 0;
  }
  return 1;
}

/**
 * 1 when every x[i] / d is finite, 0 otherwise: LossScaleOptimizer's check of the unscaled
 * gradient, read-only (the division is folded into the update kernel, assembly/pipeline.ts).
 */
export function allFiniteDiv(x: usize, n: i32, d: f32): i32 {
  const zero = f32x4.splat(0);
  const vd = f32x4.splat(d);
  let bad = i32x4.splat(0);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const v = f32x4.div(v128.load(x + (<usize>i << 2)), vd);
    bad = v128.or(bad, f32x4.ne(f32x4.sub(v, v), zero));
  }
  if (v128.any_true(bad)) return 0;
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2)) / d;
    if (v - v != 0) return 0;
  }
  return 1;
}

/**
 * x[i] = clamp(x[i], -c, c) (clipvalue, c > 0). pmax/pmin (`x < lo ? lo : x`, `hi < y ? hi : y`)
 * are one instruction each where min/max take several to order NaN and zeros; with lo < 0 < hi
 * they give min/max's results (a NaN stays a NaN, a zero keeps its sign), as the scalar tail does.
 */
export function clipByValue(x: usize, n: i32, c: f32): void {
  const hi = f32x4.splat(c);
  const lo = f32x4.neg(hi);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.pmin(f32x4.pmax(v128.load(x + o), lo), hi));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, min(max(load<f32>(x + o), -c), c));
  }
}

/** w[i] -= w[i] * c: decoupled weight decay with c = weightDecay * lr. */
export function decay(w: usize, n: i32, c: f32): void {
  const vc = f32x4.splat(c);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(w + o);
    v128.store(w + o, f32x4.sub(v, f32x4.mul(v, vc)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(w + o);
    store<f32>(w + o, v - v * c);
  }
}

/** avg[i] = m * avg[i] + (1 - m) * x[i] (exponential moving average of the weights). */
export function ema(avg: usize, x: usize, n: i32, m: f32): void {
  const vm = f32x4.splat(m);
  const om: f32 = 1 - m;
  const vom = f32x4.splat(om);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(avg + o, f32x4.add(f32x4.mul(vm, v128.load(avg + o)), f32x4.mul(vom, v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(avg + o, m * load<f32>(avg + o) + om * load<f32>(x + o));
  }
}

/**
 * dst[rows[r] * rowSize + j] += a * src[r * rowSize + j] for r < nRows. Densifies, sums duplicate
 * rows and scatters sparse updates. Row indices are validated in TypeScript before this runs.
 */
export function scatterAddRows(dst: usize, rows: usize, src: usize, nRows: i32, rowSize: i32, a: f32): void {
  const rowBytes = <usize>rowSize << 2;
  for (let r = 0; r < nRows; r++) {
    const row = <usize>load<i32>(rows + (<usize>r << 2));
    axpy(dst + row * rowBytes, src + <usize>r * rowBytes, rowSize, a);
  }
}
