// Elementwise primitives shared by the optimizer base class (clipping, decay, EMA, accumulation,
// sparse densification) and exported to users as `kernels.*`. Pointers are byte offsets into the
// imported linear memory; n counts float32 elements. Nothing here allocates.
import { PIPE_DECAY, pipeFlags, pipeW, pipeW1 } from './pipeline';
import { simdEnd, useSimd } from './simd';

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
 * Sum of squares in a fixed order that does not depend on the path (SIMD or scalar), the thread
 * count or the tensor size: blocks of SUM_BLOCK elements added in order; in a block, runs of 64
 * elements whose squares are summed in float32 in 16 lanes of 4 (lane k*4+j takes elements
 * 16i+4k+j, i = 0..3), the four k folded as (0+1)+(2+3) and each j's run sum added into a float64
 * lane; then (lane 0 + lane 2) + (lane 1 + lane 3), then the block's last n % 64 squares in float64,
 * in order. float32 sums of 16 squares (Keras sums the whole norm in float32) keep the pass at the
 * speed of reading x, which four float64 chains were not. With a pipeline record `pl`
 * (assembly/pipeline.ts) x are weights seen through its decay, read only: Lamb's and Adafactor's
 * ||w|| after the decay their fused apply pass will write.
 */
export function sumSquares(x: usize, n: i32, pl: usize): f64 {
  const f = pipeFlags(pl);
  let total: f64 = 0;
  for (let b = 0; b < n; b += SUM_BLOCK) {
    const xb = x + (<usize>b << 2);
    const len = min(SUM_BLOCK, n - b);
    // Two copies of the loop: without a decay (every gradient norm) the flag tests fold away.
    if (f & PIPE_DECAY) total += useSimd ? sumSquaresSimd(xb, len, PIPE_DECAY, pl) : sumSquaresScalar(xb, len, PIPE_DECAY, pl);
    else total += useSimd ? sumSquaresSimd(xb, len, 0, 0) : sumSquaresScalar(xb, len, 0, 0);
  }
  return total;
}

// @ts-ignore: decorator
@inline
function sq4(x: usize, f: i32, pl: usize): v128 {
  const v = pipeW(v128.load(x), f, pl);
  return f32x4.mul(v, v);
}

// @ts-ignore: decorator
@inline
function sumSquaresSimd(x: usize, n: i32, f: i32, pl: usize): f64 {
  let a01 = f64x2.splat(0);
  let a23 = f64x2.splat(0);
  const e = n & ~63;
  for (let r = 0; r < e; r += 64) {
    const p = x + (<usize>r << 2);
    let s0 = sq4(p, f, pl);
    let s1 = sq4(p + 16, f, pl);
    let s2 = sq4(p + 32, f, pl);
    let s3 = sq4(p + 48, f, pl);
    for (let i: usize = 64; i < 256; i += 64) {
      s0 = f32x4.add(s0, sq4(p + i, f, pl));
      s1 = f32x4.add(s1, sq4(p + i + 16, f, pl));
      s2 = f32x4.add(s2, sq4(p + i + 32, f, pl));
      s3 = f32x4.add(s3, sq4(p + i + 48, f, pl));
    }
    const t = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
    a01 = f64x2.add(a01, f64x2.promote_low_f32x4(t));
    a23 = f64x2.add(a23, f64x2.promote_low_f32x4(i64x2.shuffle(t, t, 1, 0)));
  }
  const s = f64x2.add(a01, a23);
  return sumSquaresTail(x, e, n, f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1), f, pl);
}

/** The SIMD path's order, one element at a time (SIMD off). */
// @ts-ignore: decorator
@inline
function sumSquaresScalar(x: usize, n: i32, f: i32, pl: usize): f64 {
  let a0: f64 = 0;
  let a1: f64 = 0;
  let a2: f64 = 0;
  let a3: f64 = 0;
  const e = n & ~63;
  for (let r = 0; r < e; r += 64) {
    for (let j = 0; j < 4; j++) {
      // lane j: the four k sums of elements 16i + 4k + j, folded (0+1)+(2+3)
      const p = x + (<usize>(r + j) << 2);
      const s0 = sq1(p, f, pl) + sq1(p + 64, f, pl) + sq1(p + 128, f, pl) + sq1(p + 192, f, pl);
      const s1 = sq1(p + 16, f, pl) + sq1(p + 80, f, pl) + sq1(p + 144, f, pl) + sq1(p + 208, f, pl);
      const s2 = sq1(p + 32, f, pl) + sq1(p + 96, f, pl) + sq1(p + 160, f, pl) + sq1(p + 224, f, pl);
      const s3 = sq1(p + 48, f, pl) + sq1(p + 112, f, pl) + sq1(p + 176, f, pl) + sq1(p + 240, f, pl);
      const t = <f64>((s0 + s1) + (s2 + s3));
      if (j == 0) a0 += t;
      else if (j == 1) a1 += t;
      else if (j == 2) a2 += t;
      else a3 += t;
    }
  }
  return sumSquaresTail(x, e, n, (a0 + a2) + (a1 + a3), f, pl);
}

// @ts-ignore: decorator
@inline
function sq1(x: usize, f: i32, pl: usize): f32 {
  const v = pipeW1(load<f32>(x), f, pl);
  return v * v;
}

/** acc plus the squares of elements [from, n), in order, in float64. */
// @ts-ignore: decorator
@inline
function sumSquaresTail(x: usize, from: i32, n: i32, acc: f64, f: i32, pl: usize): f64 {
  for (let i = from; i < n; i++) {
    const v = <f64>pipeW1(load<f32>(x + (<usize>i << 2)), f, pl);
    acc += v * v;
  }
  return acc;
}

/**
 * 1 when every element is finite, 0 otherwise: x * 0 is 0 for a finite x and NaN otherwise, and a
 * sum of them is NaN exactly when one is (two sums of 16 products per step: the pass reads at
 * memory speed).
 */
export function allFinite(x: usize, n: i32): i32 {
  const zero = f32x4.splat(0);
  let a = zero;
  let b = zero;
  const e = useSimd ? n & ~15 : 0;
  let i = 0;
  for (; i < e; i += 16) {
    const p = x + (<usize>i << 2);
    a = f32x4.add(a, f32x4.add(f32x4.mul(v128.load(p), zero), f32x4.mul(v128.load(p, 16), zero)));
    b = f32x4.add(b, f32x4.add(f32x4.mul(v128.load(p, 32), zero), f32x4.mul(v128.load(p, 48), zero)));
  }
  const s = f32x4.add(a, b);
  if (v128.any_true(f32x4.ne(s, s))) return 0;
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
