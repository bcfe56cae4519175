// AdEMAMix (optax contrib `scale_by_ademamix` + `add_decayed_weights` + the learning rate), in
// optax's float32 op order: a fast and a slow EMA of the gradient, mixed by alpha:
//   m1 = omb1*g + b1*m1;  m2 = omb3*g + b3*m2;  nu = omb2*(g*g) + b2*nu
//   u = (m1/bc1 + alpha*m2) / (sqrt(nu/bc2 + epsRoot) + eps);  [u = u + wd*w];  w = w - lr*u
// omb* = 1 - b*, bc* = 1 - b*^t and this update's b3 and alpha (optax's schedules) come from TS.
// `pl`: the step pipeline (assembly/pipeline.ts), folded into the one pass.
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// The per-vector update, shared with the 8-bit kernel (ademamix_int8.ts), which decodes m1, m2 and
// nu into registers and calls these: one definition of the math, the same bits on both paths.
/** An EMA of the gradient, optax's order: omb*g + b*m (m1 with b1, m2 with b3). */
// @ts-ignore: decorator
@inline
export function ademamixEmaX4(gi: v128, mi: v128, vb: v128, vomb: v128): v128 {
  return f32x4.add(f32x4.mul(vomb, gi), f32x4.mul(vb, mi));
}

/** The second moment: omb2*(g*g) + b2*nu. */
// @ts-ignore: decorator
@inline
export function ademamixNuX4(gi: v128, vi: v128, vb2: v128, vomb2: v128): v128 {
  return f32x4.add(f32x4.mul(vomb2, f32x4.mul(gi, gi)), f32x4.mul(vb2, vi));
}

/** The update (m1/bc1 + alpha*m2) / (sqrt(nu/bc2 + epsRoot) + eps), with the new moments. */
// @ts-ignore: decorator
@inline
export function ademamixUX4(a: v128, b: v128, v: v128, valpha: v128, vbc1: v128, vbc2: v128, ver: v128, ve: v128): v128 {
  const u = f32x4.add(f32x4.div(a, vbc1), f32x4.mul(valpha, b));
  return f32x4.div(u, f32x4.add(f32x4.sqrt(f32x4.add(f32x4.div(v, vbc2), ver)), ve));
}

/** The new weight w - lr*u, or w - lr*(u + wd*w) with optax's decay. */
// @ts-ignore: decorator
@inline
export function ademamixWX4(w: v128, u: v128, vwd: v128, vlr: v128, decay: bool): v128 {
  if (decay) u = f32x4.add(u, f32x4.mul(vwd, w));
  return f32x4.sub(w, f32x4.mul(vlr, u));
}

// @ts-ignore: decorator
@inline
function body(
  p: usize, g: usize, m1: usize, m2: usize, nu: usize, n: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, omb3: f32, alpha: f32, bc1: f32, bc2: f32,
  eps: f32, epsRoot: f32, wd: f32, lr: f32, decay: bool, pl: usize,
): void {
  const f = pipeFlags(pl);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vomb2 = f32x4.splat(omb2);
  const vb3 = f32x4.splat(b3);
  const vomb3 = f32x4.splat(omb3);
  const valpha = f32x4.splat(alpha);
  const vbc1 = f32x4.splat(bc1);
  const vbc2 = f32x4.splat(bc2);
  const ve = f32x4.splat(eps);
  const ver = f32x4.splat(epsRoot);
  const vwd = f32x4.splat(wd);
  const vlr = f32x4.splat(lr);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const a = ademamixEmaX4(gi, v128.load(m1 + o), vb1, vomb1);
    const b = ademamixEmaX4(gi, v128.load(m2 + o), vb3, vomb3);
    const v = ademamixNuX4(gi, v128.load(nu + o), vb2, vomb2);
    v128.store(m1 + o, a);
    v128.store(m2 + o, b);
    v128.store(nu + o, v);
    const u = ademamixUX4(a, b, v, valpha, vbc1, vbc2, ver, ve);
    pipeStoreW(p + o, ademamixWX4(pipeW(v128.load(p + o), f, pl), u, vwd, vlr, decay), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const a = omb1 * gi + b1 * load<f32>(m1 + o);
    const b = omb3 * gi + b3 * load<f32>(m2 + o);
    const v = omb2 * (gi * gi) + b2 * load<f32>(nu + o);
    store<f32>(m1 + o, a);
    store<f32>(m2 + o, b);
    store<f32>(nu + o, v);
    let u = a / bc1 + alpha * b;
    u = u / (sqrt<f32>(v / bc2 + epsRoot) + eps);
    const w = pipeW1(load<f32>(p + o), f, pl);
    if (decay) u = u + wd * w;
    pipeStoreW1(p + o, w - lr * u, f, pl);
  }
}

export function ademamix(
  p: usize, g: usize, m1: usize, m2: usize, nu: usize, n: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, omb3: f32, alpha: f32, bc1: f32, bc2: f32,
  eps: f32, epsRoot: f32, wd: f32, lr: f32, decay: bool, pl: usize,
): void {
  if (decay) body(p, g, m1, m2, nu, n, b1, omb1, b2, omb2, b3, omb3, alpha, bc1, bc2, eps, epsRoot, wd, lr, true, pl);
  else body(p, g, m1, m2, nu, n, b1, omb1, b2, omb2, b3, omb3, alpha, bc1, bc2, eps, epsRoot, wd, lr, false, pl);
}
