// Adam (Keras 3, epsilon added to sqrt(v) before the bias correction, which is folded into alpha):
//   m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); [amsgrad: vh = max(vh, v), used instead of v]
//   w -= m*alpha / (sqrt(v) + eps),  alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)   (computed in TS).
// AdamW uses this same kernel: its decoupled decay is the base class's weight decay, folded in
// through `pl` (assembly/pipeline.ts) with the loss scale, clipping and the EMA of the weights.
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// The per-vector update, shared with the 8-bit kernels (adam_int8.ts), which decode m and v into
// registers and call these: one definition of the math, the same bits on both paths.
/** m + (g - m)(1 - b1) */
// @ts-ignore: decorator
@inline
export function adamMX4(gi: v128, mi: v128, c1: v128): v128 {
  return f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), c1));
}

/** v + (g^2 - v)(1 - b2) */
// @ts-ignore: decorator
@inline
export function adamVX4(gi: v128, vi: v128, c2: v128): v128 {
  return f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), c2));
}

/** AMSGrad's vhat: max(vhat, v) with the new v. */
// @ts-ignore: decorator
@inline
export function adamVhatX4(hi: v128, vi: v128): v128 {
  return f32x4.max(hi, vi);
}

/** w - m*alpha / (sqrt(v) + eps), with the new m and v (or vhat). */
// @ts-ignore: decorator
@inline
export function adamWX4(wi: v128, mi: v128, vi: v128, va: v128, ve: v128): v128 {
  return f32x4.sub(wi, f32x4.div(f32x4.mul(mi, va), f32x4.add(f32x4.sqrt(vi), ve)));
}

export function adam(p: usize, g: usize, m: usize, v: usize, n: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const c1 = f32x4.splat(omb1);
  const c2 = f32x4.splat(omb2);
  const va = f32x4.splat(alpha);
  const ve = f32x4.splat(eps);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const mi = adamMX4(gi, v128.load(m + o), c1);
    const vi = adamVX4(gi, v128.load(v + o), c2);
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    pipeStoreW(p + o, adamWX4(pipeW(v128.load(p + o), f, pl), mi, vi, va, ve), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    let mi = load<f32>(m + o);
    let vi = load<f32>(v + o);
    mi += (gi - mi) * omb1;
    vi += (gi * gi - vi) * omb2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - (mi * alpha) / (sqrt<f32>(vi) + eps), f, pl);
  }
}

export function adamAmsgrad(p: usize, g: usize, m: usize, v: usize, vh: usize, n: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const c1 = f32x4.splat(omb1);
  const c2 = f32x4.splat(omb2);
  const va = f32x4.splat(alpha);
  const ve = f32x4.splat(eps);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const mi = adamMX4(gi, v128.load(m + o), c1);
    const vi = adamVX4(gi, v128.load(v + o), c2);
    const hi = adamVhatX4(v128.load(vh + o), vi);
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    v128.store(vh + o, hi);
    pipeStoreW(p + o, adamWX4(pipeW(v128.load(p + o), f, pl), mi, hi, va, ve), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    let mi = load<f32>(m + o);
    let vi = load<f32>(v + o);
    mi += (gi - mi) * omb1;
    vi += (gi * gi - vi) * omb2;
    const hi = max<f32>(load<f32>(vh + o), vi);
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(vh + o, hi);
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - (mi * alpha) / (sqrt<f32>(hi) + eps), f, pl);
  }
}
