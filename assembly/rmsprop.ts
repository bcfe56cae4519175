// RMSprop (Keras 3): no bias correction, and epsilon sits INSIDE the sqrt:
//   v = rho*v + (1-rho)*g^2
//   centered: a = rho*a + (1-rho)*g, den = v - a^2 + eps;   otherwise den = v + eps
//   inc = lr*g / sqrt(den);   momentum: mom = mu*mom + inc, w -= mom;   otherwise w -= inc.
// One export; `a` (average_gradient) and `mom` (momentum) are 0 when their option is off. Each of the
// four variants gets its own loop (the flags are constants once inlined), so the loop never branches.
// The step pipeline (unscale, clip, decay, EMA) folds in through `pl` (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// The per-vector update, shared with the 8-bit kernel (rmsprop_int8.ts): one definition of the math.
/** The new velocity rho*v + (1-rho)*g^2. */
// @ts-ignore: decorator
@inline
export function rmspropVX4(vi: v128, gi: v128, vrho: v128, vomr: v128): v128 {
  return f32x4.add(f32x4.mul(vrho, vi), f32x4.mul(vomr, f32x4.mul(gi, gi)));
}

/** The denominator (under the sqrt) without centering: v + eps. */
// @ts-ignore: decorator
@inline
export function rmspropDenX4(vi: v128, ve: v128): v128 {
  return f32x4.add(vi, ve);
}

/** The increment lr*g / sqrt(den). */
// @ts-ignore: decorator
@inline
export function rmspropIncX4(gi: v128, den: v128, vlr: v128): v128 {
  return f32x4.div(f32x4.mul(vlr, gi), f32x4.sqrt(den));
}

/** With momentum: the new momentum mu*mom + inc (what the weight moves by). */
// @ts-ignore: decorator
@inline
export function rmspropMomX4(momi: v128, inc: v128, vmu: v128): v128 {
  return f32x4.add(f32x4.mul(vmu, momi), inc);
}

export function rmsprop(p: usize, g: usize, v: usize, a: usize, mom: usize, n: i32, rho: f32, omr: f32, lr: f32, eps: f32, mu: f32, pl: usize): void {
  const f = pipeFlags(pl);
  if (a == 0) {
    if (mom == 0) rmspropLoop(p, g, v, a, mom, n, rho, omr, lr, eps, mu, false, false, f, pl);
    else rmspropLoop(p, g, v, a, mom, n, rho, omr, lr, eps, mu, false, true, f, pl);
  } else if (mom == 0) rmspropLoop(p, g, v, a, mom, n, rho, omr, lr, eps, mu, true, false, f, pl);
  else rmspropLoop(p, g, v, a, mom, n, rho, omr, lr, eps, mu, true, true, f, pl);
}

// @ts-ignore: decorator
@inline
function rmspropLoop(
  p: usize, g: usize, v: usize, a: usize, mom: usize, n: i32,
  rho: f32, omr: f32, lr: f32, eps: f32, mu: f32, centered: bool, momentum: bool, f: i32, pl: usize,
): void {
  const vrho = f32x4.splat(rho);
  const vomr = f32x4.splat(omr);
  const vlr = f32x4.splat(lr);
  const ve = f32x4.splat(eps);
  const vmu = f32x4.splat(mu);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const vi = rmspropVX4(v128.load(v + o), gi, vrho, vomr);
    v128.store(v + o, vi);
    let den = rmspropDenX4(vi, ve);
    if (centered) {
      const ai = f32x4.add(f32x4.mul(vrho, v128.load(a + o)), f32x4.mul(vomr, gi));
      v128.store(a + o, ai);
      den = f32x4.add(f32x4.sub(vi, f32x4.mul(ai, ai)), ve);
    }
    let inc = rmspropIncX4(gi, den, vlr);
    if (momentum) {
      inc = rmspropMomX4(v128.load(mom + o), inc, vmu);
      v128.store(mom + o, inc);
    }
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), inc), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const vi = rho * load<f32>(v + o) + omr * (gi * gi);
    store<f32>(v + o, vi);
    let den = vi + eps;
    if (centered) {
      const ai = rho * load<f32>(a + o) + omr * gi;
      store<f32>(a + o, ai);
      den = (vi - ai * ai) + eps;
    }
    let inc = (lr * gi) / sqrt<f32>(den);
    if (momentum) {
      inc = mu * load<f32>(mom + o) + inc;
      store<f32>(mom + o, inc);
    }
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - inc, f, pl);
  }
}
