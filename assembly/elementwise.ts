// Elementwise primitives (the contract in kernel-abi.md): one wasm instruction per lane, the same
// bits in the f32x4 loop and in the scalar tail, so a multi-pass composition of them is
// bit-identical to a fused kernel applying the same instructions. Pointers are byte offsets into
// the imported memory, n counts float32 elements; out may equal any input. Nothing allocates.
import { simdEnd } from './simd';

// Binary arithmetic: out[i] = a[i] op b[i].

export function ewAdd(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

export function ewSub(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.sub(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) - load<f32>(b + o));
  }
}

export function ewMul(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

export function ewDiv(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.div(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) / load<f32>(b + o));
  }
}

// The NaN that f32.min / f32.max return is left open by the wasm spec, and engines differ
// between their own vector and scalar code (V8 on x64: f32x4.max gives 0x7FC00000 where f32.max
// gives 0xFFC00000). Min and max therefore replace a NaN result by one fixed pattern in both loops.
const CANONICAL_NAN: i32 = 0x7fc00000;

/** min(a, b) (f32x4.min / f32.min): -0 < +0, and a NaN operand gives the canonical NaN 0x7FC00000. */
export function ewMin(out: usize, a: usize, b: usize, n: i32): void {
  const canonicalNaN = i32x4.splat(CANONICAL_NAN);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const r = f32x4.min(v128.load(a + o), v128.load(b + o));
    v128.store(out + o, v128.bitselect(canonicalNaN, r, f32x4.ne(r, r)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const r = min<f32>(load<f32>(a + o), load<f32>(b + o));
    store<i32>(out + o, select<i32>(CANONICAL_NAN, reinterpret<i32>(r), r != r));
  }
}

/** max(a, b) (f32x4.max / f32.max): -0 < +0, and a NaN operand gives the canonical NaN 0x7FC00000. */
export function ewMax(out: usize, a: usize, b: usize, n: i32): void {
  const canonicalNaN = i32x4.splat(CANONICAL_NAN);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const r = f32x4.max(v128.load(a + o), v128.load(b + o));
    v128.store(out + o, v128.bitselect(canonicalNaN, r, f32x4.ne(r, r)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const r = max<f32>(load<f32>(a + o), load<f32>(b + o));
    store<i32>(out + o, select<i32>(CANONICAL_NAN, reinterpret<i32>(r), r != r));
  }
}

// Unary: out[i] = op(a[i]).

/** -a: flips the sign bit only (NaN payloads kept). */
export function ewNeg(out: usize, a: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.neg(v128.load(a + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, -load<f32>(a + o));
  }
}

/** |a|: clears the sign bit only. */
export function ewAbs(out: usize, a: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.abs(v128.load(a + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, abs<f32>(load<f32>(a + o)));
  }
}

export function ewSqrt(out: usize, a: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.sqrt(v128.load(a + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, sqrt<f32>(load<f32>(a + o)));
  }
}

/**
 * sign(a): +1 for a > 0, -1 for a < 0, +0 for +-0, and all bits set (a NaN) for a NaN. Built from
 * comparison masks as lion's SIMD loop; the scalar tail builds the same bits with integer ops.
 */
export function ewSign(out: usize, a: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  const minusOne = f32x4.splat(-1);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(a + o);
    v128.store(out + o, v128.or(v128.or(v128.and(f32x4.gt(v, zero), one), v128.and(f32x4.lt(v, zero), minusOne)), f32x4.ne(v, v)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(a + o);
    // 0x3F800000 is 1.0f, 0xBF800000 is -1.0f; -(<i32>bool) is the all-ones mask for true.
    const bits = (-(<i32>(v > 0)) & 0x3f800000) | (-(<i32>(v < 0)) & <i32>0xbf800000) | -(<i32>(v != v));
    store<i32>(out + o, bits);
  }
}

// Comparisons: out[i] = all 32 bits set when a[i] op b[i] holds, else 0 (an f32x4 comparison mask;
// any comparison with a NaN is false, except ne).

export function ewLt(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.lt(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<i32>(out + o, -(<i32>(load<f32>(a + o) < load<f32>(b + o))));
  }
}

export function ewLe(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.le(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<i32>(out + o, -(<i32>(load<f32>(a + o) <= load<f32>(b + o))));
  }
}

export function ewGt(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.gt(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<i32>(out + o, -(<i32>(load<f32>(a + o) > load<f32>(b + o))));
  }
}

export function ewGe(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.ge(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<i32>(out + o, -(<i32>(load<f32>(a + o) >= load<f32>(b + o))));
  }
}

export function ewEq(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.eq(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<i32>(out + o, -(<i32>(load<f32>(a + o) == load<f32>(b + o))));
  }
}

export function ewNe(out: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.ne(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<i32>(out + o, -(<i32>(load<f32>(a + o) != load<f32>(b + o))));
  }
}

/** out[i] = bitwise select: the bits of a where c's bits are set, of b elsewhere (c is a mask). */
export function ewSelect(out: usize, c: usize, a: usize, b: usize, n: i32): void {
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, v128.bitselect(v128.load(a + o), v128.load(b + o), v128.load(c + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const m = load<i32>(c + o);
    store<i32>(out + o, (m & load<i32>(a + o)) | (~m & load<i32>(b + o)));
  }
}
