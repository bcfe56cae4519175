// Rectified Adam (TensorFlow Addons' RectifiedAdam; Liu et al. 2019):
//   m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); [amsgrad: vh = max(vh, v), used instead of v]
//   rectified step (SMA >= threshold): w -= step * m / (sqrt(v * c2) + eps),  step = lr * r_t / (1 - b1^t)
//   otherwise (early steps):           w -= step * m,                          step = lr / (1 - b1^t)
// c2 = 1 / (1 - b2^t). The SMA test, r_t and any warmup of lr are per-step scalars computed in TS.
// `pl`: the step pipeline (assembly/pipeline.ts), folded into the one pass.
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

/** vh = 0 means no amsgrad; adaptive = 0 takes the un-rectified (momentum only) step. */
export function radam(p: usize, g: usize, m: usize, v: usize, vh: usize, n: i32, omb1: f32, omb2: f32, c2: f32, step: f32, eps: f32, adaptive: i32, pl: usize): void {
  const f = pipeFlags(pl);
  const ams = vh != 0;
  const vb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(omb2);
  const vc2 = f32x4.splat(c2);
  const vs = f32x4.splat(step);
  const ve = f32x4.splat(eps);
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
    if (ams) {
      vi = f32x4.max(v128.load(vh + o), vi);
      v128.store(vh + o, vi);
    }
    let u = f32x4.mul(mi, vs);
    if (adaptive) u = f32x4.div(u, f32x4.add(f32x4.sqrt(f32x4.mul(vi, vc2)), ve));
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), u), f, pl);
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
    if (ams) {
      vi = max<f32>(load<f32>(vh + o), vi);
      store<f32>(vh + o, vi);
    }
    let u = mi * step;
    if (adaptive) u = u / (sqrt<f32>(vi * c2) + eps);
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - u, f, pl);
  }
}
