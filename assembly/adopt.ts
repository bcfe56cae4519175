// ADOPT (optax contrib `scale_by_adopt` + the learning rate), in optax's float32 op order. The
// gradient is normalised by the PREVIOUS second moment, then clipped, then averaged:
//   x = clamp(g / max(sqrt(nu), eps), -c, c);  nu = omb2*(g*g) + b2*nu;  mu = omb1*x + b1*mu
//   w = w - lr*mu   (nesterov: w = w - lr*(omb1*x + b1*mu) with the new mu)
// TS passes optax's first-step values (b1 1, b2 0, c 0) and c = +Infinity without clipping (a no-op).
// max/min are the comparison-select forms (a < b ? b : a), one instruction each (the IEEE
// f32x4.min/max take several on x86): a NaN in x or sqrt(nu) still propagates, as jnp's does, and
// the bounds are never NaN; only the sign of a zero tie could differ, and a zero x adds to mu alike.
// `pl`: the step pipeline (assembly/pipeline.ts), folded into the one pass.
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// @ts-ignore: decorator
@inline
function body(
  p: usize, g: usize, mu: usize, nu: usize, n: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, eps: f32, c: f32, lr: f32, nesterov: bool, pl: usize,
): void {
  const f = pipeFlags(pl);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vomb2 = f32x4.splat(omb2);
  const ve = f32x4.splat(eps);
  const vhi = f32x4.splat(c);
  const vlo = f32x4.splat(-c);
  const vlr = f32x4.splat(lr);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const vi = v128.load(nu + o);
    const x = f32x4.pmin(f32x4.pmax(f32x4.div(gi, f32x4.pmax(f32x4.sqrt(vi), ve)), vlo), vhi);
    v128.store(nu + o, f32x4.add(f32x4.mul(vomb2, f32x4.mul(gi, gi)), f32x4.mul(vb2, vi)));
    const mi = f32x4.add(f32x4.mul(vomb1, x), f32x4.mul(vb1, v128.load(mu + o)));
    v128.store(mu + o, mi);
    const u = nesterov ? f32x4.add(f32x4.mul(vomb1, x), f32x4.mul(vb1, mi)) : mi;
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.mul(vlr, u)), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const vi = load<f32>(nu + o);
    const r = sqrt<f32>(vi);
    let x = gi / (r < eps ? eps : r);
    x = x < -c ? -c : x;
    x = c < x ? c : x;
    store<f32>(nu + o, omb2 * (gi * gi) + b2 * vi);
    const mi = omb1 * x + b1 * load<f32>(mu + o);
    store<f32>(mu + o, mi);
    const u = nesterov ? omb1 * x + b1 * mi : mi;
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - lr * u, f, pl);
  }
}

export function adopt(
  p: usize, g: usize, mu: usize, nu: usize, n: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, eps: f32, c: f32, lr: f32, nesterov: bool, pl: usize,
): void {
  if (nesterov) body(p, g, mu, nu, n, b1, omb1, b2, omb2, eps, c, lr, true, pl);
  else body(p, g, mu, nu, n, b1, omb1, b2, omb2, eps, c, lr, false, pl);
}
