// Fused kernels behind kernels.addcmul / addcdiv / lerp (the torch._foreach_* family): one pass,
// x written in place, each step rounded to float32 in the order documented per function, the same
// instructions in the f32x4 loop and the scalar tail. x may equal an input; partial overlaps are
// refused in TypeScript (src/kernels.ts) before these run.
import { simdEnd } from './simd';

/** x[i] = x[i] + (value * t1[i]) * t2[i] (PyTorch's CPU addcmul order). */
export function foreachAddcmul(x: usize, t1: usize, t2: usize, n: i32, value: f32): void {
  const vv = f32x4.splat(value);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.add(v128.load(x + o), f32x4.mul(f32x4.mul(vv, v128.load(t1 + o)), v128.load(t2 + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) + (value * load<f32>(t1 + o)) * load<f32>(t2 + o));
  }
}

/** x[i] = x[i] + (value * t1[i]) / t2[i] (PyTorch's CPU addcdiv order; a true division). */
export function foreachAddcdiv(x: usize, t1: usize, t2: usize, n: i32, value: f32): void {
  const vv = f32x4.splat(value);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.add(v128.load(x + o), f32x4.div(f32x4.mul(vv, v128.load(t1 + o)), v128.load(t2 + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) + (value * load<f32>(t1 + o)) / load<f32>(t2 + o));
  }
}

/**
 * x[i] = |w| < 0.5 ? x[i] + (end[i] - x[i]) * w : end[i] + (end[i] - x[i]) * (w - 1), PyTorch's
 * two-sided lerp (exact at w = 0 and w = 1). The second form equals end - (end - x) * (1 - w) bit
 * for bit (negation is exact and rounding symmetric). The side is chosen once per call.
 */
export function foreachLerp(x: usize, end: usize, n: i32, w: f32): void {
  const small = abs<f32>(w) < 0.5;
  const coeff: f32 = small ? w : w - 1;
  const base = small ? x : end;
  const vc = f32x4.splat(coeff);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const d = f32x4.sub(v128.load(end + o), v128.load(x + o));
    v128.store(x + o, f32x4.add(v128.load(base + o), f32x4.mul(d, vc)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(end + o) - load<f32>(x + o);
    store<f32>(x + o, load<f32>(base + o) + d * coeff);
  }
}

/** foreachLerp with a weight per element: the side is chosen per element (a NaN weight gives NaN). */
export function foreachLerpTensor(x: usize, end: usize, w: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const xi = v128.load(x + o);
    const ei = v128.load(end + o);
    const wi = v128.load(w + o);
    const small = f32x4.lt(f32x4.abs(wi), half);
    const base = v128.bitselect(xi, ei, small);
    const coeff = v128.bitselect(wi, f32x4.sub(wi, one), small);
    v128.store(x + o, f32x4.add(base, f32x4.mul(f32x4.sub(ei, xi), coeff)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const xi = load<f32>(x + o);
    const ei = load<f32>(end + o);
    const wi = load<f32>(w + o);
    const small = abs<f32>(wi) < 0.5;
    const base = select<f32>(xi, ei, small);
    const coeff = select<f32>(wi, wi - 1, small);
    store<f32>(x + o, base + (ei - xi) * coeff);
  }
}
