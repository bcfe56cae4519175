// Yogi (TensorFlow Addons; Zaheer et al. 2018). With d = m (beta1 > 0) or g (beta1 = 0):
//   m += (g - m)(1 - b1)
//   v += (1 - b2) * s * g^2,   s = sign(g^2 - v), or tanh(10 (g^2 - v)) with the tanh activation
//   p = alpha / (sqrt(v) + eps),  alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)   (computed in TS)
//   x = w - p d;  with l1/l2:  w = (x - clamp(x, -l1 p, l1 p)) / (1 + l2 p)   (the proximal step)
// The clamp form is TFA's closed-form l1 solution (0 inside the band, shrink by l1 p outside) and
// reduces exactly to x / (1 + l2 p) when l1 = 0. `pl`: the step pipeline (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// @ts-ignore: decorator
@inline
function sign4(x: v128): v128 {
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  return f32x4.sub(v128.and(f32x4.gt(x, zero), one), v128.and(f32x4.lt(x, zero), one));
}

// No f32x4 tanh exists: each lane goes through the same scalar Mathf.tanh as the scalar path.
// @ts-ignore: decorator
@inline
function tanh4(x: v128): v128 {
  let r = f32x4.splat(0);
  r = f32x4.replace_lane(r, 0, Mathf.tanh(10 * f32x4.extract_lane(x, 0)));
  r = f32x4.replace_lane(r, 1, Mathf.tanh(10 * f32x4.extract_lane(x, 1)));
  r = f32x4.replace_lane(r, 2, Mathf.tanh(10 * f32x4.extract_lane(x, 2)));
  r = f32x4.replace_lane(r, 3, Mathf.tanh(10 * f32x4.extract_lane(x, 3)));
  return r;
}

/** m = 0 means no first moment (beta1 = 0). act: 0 sign, 1 tanh. l1 = l2 = 0 skips the proximal step. */
export function yogi(p: usize, g: usize, m: usize, v: usize, n: i32, omb1: f32, omb2: f32, alpha: f32, eps: f32, l1: f32, l2: f32, act: i32, pl: usize): void {
  const f = pipeFlags(pl);
  const hasM = m != 0;
  const prox = l1 > 0 || l2 > 0;
  const c1 = f32x4.splat(omb1);
  const c2 = f32x4.splat(omb2);
  const va = f32x4.splat(alpha);
  const ve = f32x4.splat(eps);
  const vl1 = f32x4.splat(l1);
  const vl2 = f32x4.splat(l2);
  const one = f32x4.splat(1);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    let d = gi;
    if (hasM) {
      const mi = v128.load(m + o);
      d = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), c1));
      v128.store(m + o, d);
    }
    const g2 = f32x4.mul(gi, gi);
    let vi = v128.load(v + o);
    const diff = f32x4.sub(g2, vi);
    const s = act ? tanh4(diff) : sign4(diff);
    vi = f32x4.add(vi, f32x4.mul(f32x4.mul(c2, s), g2));
    v128.store(v + o, vi);
    const pc = f32x4.div(va, f32x4.add(f32x4.sqrt(vi), ve));
    let x = f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.mul(pc, d));
    if (prox) {
      const band = f32x4.mul(vl1, pc);
      const shrunk = f32x4.sub(x, f32x4.min(f32x4.max(x, f32x4.neg(band)), band));
      x = f32x4.div(shrunk, f32x4.add(one, f32x4.mul(vl2, pc)));
    }
    pipeStoreW(p + o, x, f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    let d = gi;
    if (hasM) {
      const mi = load<f32>(m + o);
      d = mi + (gi - mi) * omb1;
      store<f32>(m + o, d);
    }
    const g2 = gi * gi;
    let vi = load<f32>(v + o);
    const diff = g2 - vi;
    const s: f32 = act ? Mathf.tanh(10 * diff) : diff > 0 ? 1 : diff < 0 ? -1 : 0;
    vi += omb2 * s * g2;
    store<f32>(v + o, vi);
    const pc = alpha / (sqrt<f32>(vi) + eps);
    let x = pipeW1(load<f32>(p + o), f, pl) - pc * d;
    if (prox) {
      const band = l1 * pc;
      x = (x - min<f32>(max<f32>(x, -band), band)) / (1 + l2 * pc);
    }
    pipeStoreW1(p + o, x, f, pl);
  }
}
