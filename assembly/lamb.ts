// Lamb (Keras 3): Adam's moments, then a trust ratio over the whole tensor.
//   m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2)
//   r = m*c1 / (sqrt(v*c2) + eps),  c1 = 1/(1 - b1^t), c2 = 1/(1 - b2^t)   (eps after the bias correction)
//   w -= q*lr * r,  q = ||w|| / ||r||, or 1 when either norm is 0       (q and its product with lr in TS)
// q needs ||r|| before any weight moves, hence two passes: lambMoments updates the moments and
// returns sum(r^2); lambApply recomputes r from the stored moments with the same arithmetic (so
// the same bits) instead of keeping an n-sized buffer of r.
// `pl`: the step pipeline (assembly/pipeline.ts): lambMoments reads the gradient through pipeG,
// lambApply decays w on its one load and stores it with the EMA; ||w|| of the decayed weights is
// common.ts's sumSquares given the record (read only).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// @ts-ignore: decorator
@inline
function ratio4(m: v128, v: v128, c1: v128, c2: v128, eps: v128): v128 {
  return f32x4.div(f32x4.mul(m, c1), f32x4.add(f32x4.sqrt(f32x4.mul(v, c2)), eps));
}

// @ts-ignore: decorator
@inline
function ratio(m: f32, v: f32, c1: f32, c2: f32, eps: f32): f32 {
  return (m * c1) / (sqrt<f32>(v * c2) + eps);
}

/** Updates m and v in place; returns sum(r^2), accumulated in f64. */
export function lambMoments(g: usize, m: usize, v: usize, n: i32, omb1: f32, omb2: f32, c1: f32, c2: f32, eps: f32, pl: usize): f64 {
  const f = pipeFlags(pl);
  const vb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(omb2);
  const vc1 = f32x4.splat(c1);
  const vc2 = f32x4.splat(c2);
  const ve = f32x4.splat(eps);
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    let mi = v128.load(m + o);
    let vi = v128.load(v + o);
    mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), vb1));
    vi = f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), vb2));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const r = ratio4(mi, vi, vc1, vc2, ve);
    const lo = f64x2.promote_low_f32x4(r);
    const hi = f64x2.promote_low_f32x4(v128.swizzle(r, i8x16(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)));
    acc0 = f64x2.add(acc0, f64x2.mul(lo, lo));
    acc1 = f64x2.add(acc1, f64x2.mul(hi, hi));
  }
  const s = f64x2.add(acc0, acc1);
  let acc = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    let mi = load<f32>(m + o);
    let vi = load<f32>(v + o);
    mi += (gi - mi) * omb1;
    vi += (gi * gi - vi) * omb2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const r = <f64>ratio(mi, vi, c1, c2, eps);
    acc += r * r;
  }
  return acc;
}

/** w -= step * r, with r recomputed from the moments lambMoments stored. */
export function lambApply(p: usize, m: usize, v: usize, n: i32, c1: f32, c2: f32, eps: f32, step: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const vc1 = f32x4.splat(c1);
  const vc2 = f32x4.splat(c2);
  const ve = f32x4.splat(eps);
  const vs = f32x4.splat(step);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const r = ratio4(v128.load(m + o), v128.load(v + o), vc1, vc2, ve);
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.mul(r, vs)), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - ratio(load<f32>(m + o), load<f32>(v + o), c1, c2, eps) * step, f, pl);
  }
}
