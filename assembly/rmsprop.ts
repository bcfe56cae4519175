// RMSprop (Keras 3): no bias correction, and epsilon sits INSIDE the sqrt:
//   v = rho*v + (1-rho)*g^2
//   centered: a = rho*a + (1-rho)*g, den = v - a^2 + eps;   otherwise den = v + eps
//   inc = lr*g / sqrt(den);   momentum: mom = mu*mom + inc, w -= mom;   otherwise w -= inc.
// One export; `a` (average_gradient) and `mom` (momentum) are 0 when their option is off. Each of the
// four variants gets its own loop (the flags are constants once inlined), so the loop never branches.
import { simdEnd } from './simd';

export function rmsprop(p: usize, g: usize, v: usize, a: usize, mom: usize, n: i32, rho: f32, omr: f32, lr: f32, eps: f32, mu: f32): void {
  if (a == 0) {
    if (mom == 0) rmspropLoop(p, g, v, a, mom, n, rho, omr, lr, eps, mu, false, false);
    else rmspropLoop(p, g, v, a, mom, n, rho, omr, lr, eps, mu, false, true);
  } else if (mom == 0) rmspropLoop(p, g, v, a, mom, n, rho, omr, lr, eps, mu, true, false);
  else rmspropLoop(p, g, v, a, mom, n, rho, omr, lr, eps, mu, true, true);
}

// @ts-ignore: decorator
@inline
function rmspropLoop(
  p: usize, g: usize, v: usize, a: usize, mom: usize, n: i32,
  rho: f32, omr: f32, lr: f32, eps: f32, mu: f32, centered: bool, momentum: bool,
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
    const gi = v128.load(g + o);
    const vi = f32x4.add(f32x4.mul(vrho, v128.load(v + o)), f32x4.mul(vomr, f32x4.mul(gi, gi)));
    v128.store(v + o, vi);
    let den = f32x4.add(vi, ve);
    if (centered) {
      const ai = f32x4.add(f32x4.mul(vrho, v128.load(a + o)), f32x4.mul(vomr, gi));
      v128.store(a + o, ai);
      den = f32x4.add(f32x4.sub(vi, f32x4.mul(ai, ai)), ve);
    }
    let inc = f32x4.div(f32x4.mul(vlr, gi), f32x4.sqrt(den));
    if (momentum) {
      inc = f32x4.add(f32x4.mul(vmu, v128.load(mom + o)), inc);
      v128.store(mom + o, inc);
    }
    v128.store(p + o, f32x4.sub(v128.load(p + o), inc));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
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
    store<f32>(p + o, load<f32>(p + o) - inc);
  }
}
