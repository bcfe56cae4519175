// Reductions for `kernel()`'s multi-pass fallback (src/kernel/fallback.ts). The generated fused
// kernels (src/kernel/emit.ts) reproduce this exact accumulation order, so both paths return the
// same bits, with SIMD on or off:
// - four lane accumulators: element i of every full group of four (i < n & ~3) goes to lane i % 4;
// - then r = (lane0 + lane2) + (lane1 + lane3), then the tail elements are added to r in order.
// sum and sumOfSquares accumulate in f64 (an f32 value and its square are exact in f64); max and
// maxAbs in f32 (f32.max: NaN propagates, -0 < +0). The lanes live in memory at `acc` (4 f64 or
// 4 f32, set by the caller: zeros, or -Infinity for max) and are stored back, so a long array can
// be reduced in chunks whose lengths are multiples of 4: only the last chunk's tail and return
// value matter. Nothing allocates.
import { simdEnd, useSimd } from './simd';

/** 1 while the SIMD loops are on (setSimd), so generated kernels follow the same switch. */
export function simdEnabled(): i32 {
  return useSimd ? 1 : 0;
}

// @ts-ignore: decorator
@inline
function hi2(v: v128): v128 {
  return i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
}

/** Sum in f64 (squares when `sq`), in the documented order. */
// @ts-ignore: decorator
@inline
function sumF64(acc: usize, x: usize, n: i32, sq: bool): f64 {
  let a = v128.load(acc);
  let b = v128.load(acc, 16);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(hi2(v));
    a = f64x2.add(a, sq ? f64x2.mul(lo, lo) : lo);
    b = f64x2.add(b, sq ? f64x2.mul(hi, hi) : hi);
  }
  let a0 = f64x2.extract_lane(a, 0);
  let a1 = f64x2.extract_lane(a, 1);
  let a2 = f64x2.extract_lane(b, 0);
  let a3 = f64x2.extract_lane(b, 1);
  const g = n & ~3;
  for (; i < g; i += 4) {
    const o = x + (<usize>i << 2);
    const v0 = <f64>load<f32>(o);
    const v1 = <f64>load<f32>(o, 4);
    const v2 = <f64>load<f32>(o, 8);
    const v3 = <f64>load<f32>(o, 12);
    a0 += sq ? v0 * v0 : v0;
    a1 += sq ? v1 * v1 : v1;
    a2 += sq ? v2 * v2 : v2;
    a3 += sq ? v3 * v3 : v3;
  }
  store<f64>(acc, a0);
  store<f64>(acc, a1, 8);
  store<f64>(acc, a2, 16);
  store<f64>(acc, a3, 24);
  let r = a0 + a2 + (a1 + a3);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    r += sq ? v * v : v;
  }
  return r;
}

/** Max in f32 (of |x| when `ab`), in the documented order. */
// @ts-ignore: decorator
@inline
function maxF32(acc: usize, x: usize, n: i32, ab: bool): f64 {
  let a = v128.load(acc);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    a = f32x4.max(a, ab ? f32x4.abs(v) : v);
  }
  let a0 = f32x4.extract_lane(a, 0);
  let a1 = f32x4.extract_lane(a, 1);
  let a2 = f32x4.extract_lane(a, 2);
  let a3 = f32x4.extract_lane(a, 3);
  const g = n & ~3;
  for (; i < g; i += 4) {
    const o = x + (<usize>i << 2);
    const v0 = load<f32>(o);
    const v1 = load<f32>(o, 4);
    const v2 = load<f32>(o, 8);
    const v3 = load<f32>(o, 12);
    a0 = max<f32>(a0, ab ? abs<f32>(v0) : v0);
    a1 = max<f32>(a1, ab ? abs<f32>(v1) : v1);
    a2 = max<f32>(a2, ab ? abs<f32>(v2) : v2);
    a3 = max<f32>(a3, ab ? abs<f32>(v3) : v3);
  }
  store<f32>(acc, a0);
  store<f32>(acc, a1, 4);
  store<f32>(acc, a2, 8);
  store<f32>(acc, a3, 12);
  let r = max<f32>(max<f32>(a0, a2), max<f32>(a1, a3));
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    r = max<f32>(r, ab ? abs<f32>(v) : v);
  }
  return <f64>r;
}

/** Sum of x (f64 lanes at acc). */
export function reduceSum(acc: usize, x: usize, n: i32): f64 {
  return sumF64(acc, x, n, false);
}

/** Sum of x^2 (f64 lanes at acc). */
export function reduceSumOfSquares(acc: usize, x: usize, n: i32): f64 {
  return sumF64(acc, x, n, true);
}

/** Max of x (f32 lanes at acc, start at -Infinity). */
export function reduceMax(acc: usize, x: usize, n: i32): f64 {
  return maxF32(acc, x, n, false);
}

/** Max of |x| (f32 lanes at acc, start at 0). */
export function reduceMaxAbs(acc: usize, x: usize, n: i32): f64 {
  return maxF32(acc, x, n, true);
}
