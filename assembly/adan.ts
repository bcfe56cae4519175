// Adan (optax `scale_by_adan` + `add_decayed_weights` + the learning rate), in optax's float32 op order:
//   d = first ? 0 : g - gPrev;  m = omb1*g + b1*m;  v = omb2*d + b2*v;  q = g + omb2*d;  n = omb3*(q*q) + b3*n
//   u = (m/bc1 + omb2*(v/bc2)) / (sqrt(n/bc3 + epsRoot) + eps);  [u = u + wd*w];  w = w - lr*u;  gPrev = g
// omb* = 1 - b* and bc* = 1 - b*^t come from TS. One pass; `decay` and `first` select a specialised loop.
// `pl`: the step pipeline (assembly/pipeline.ts); the stored previous gradient is the one the update saw.
// The per-vector math is a set of @inline functions (adanMX4, adanVX4, adanNX4, adanWX4) shared
// with the 8-bit kernel (adan_int8.ts): written once, the same bits on both paths.
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

/** The new m: omb1*g + b1*m. */
// @ts-ignore: decorator
@inline
export function adanMX4(gi: v128, m: v128, vb1: v128, vomb1: v128): v128 {
  return f32x4.add(f32x4.mul(vomb1, gi), f32x4.mul(vb1, m));
}

/** The new v: omb2*d + b2*v. */
// @ts-ignore: decorator
@inline
export function adanVX4(d: v128, v: v128, vb2: v128, vomb2: v128): v128 {
  return f32x4.add(f32x4.mul(vomb2, d), f32x4.mul(vb2, v));
}

/** The new n: omb3*(q*q) + b3*n with q = g + omb2*d. */
// @ts-ignore: decorator
@inline
export function adanNX4(gi: v128, d: v128, nn: v128, vomb2: v128, vb3: v128, vomb3: v128): v128 {
  const q = f32x4.add(gi, f32x4.mul(vomb2, d));
  return f32x4.add(f32x4.mul(vomb3, f32x4.mul(q, q)), f32x4.mul(vb3, nn));
}

/** The new weight from the new m, v, n and the weight w (after the pipeline's decay). */
// @ts-ignore: decorator
@inline
export function adanWX4(w: v128, mi: v128, vi: v128, ni: v128, vomb2: v128, vbc1: v128, vbc2: v128, vbc3: v128, ve: v128, ver: v128, vwd: v128, vlr: v128, decay: bool): v128 {
  let u = f32x4.add(f32x4.div(mi, vbc1), f32x4.mul(vomb2, f32x4.div(vi, vbc2)));
  u = f32x4.div(u, f32x4.add(f32x4.sqrt(f32x4.add(f32x4.div(ni, vbc3), ver)), ve));
  if (decay) u = f32x4.add(u, f32x4.mul(vwd, w));
  return f32x4.sub(w, f32x4.mul(vlr, u));
}

// @ts-ignore: decorator
@inline
function body(
  p: usize, g: usize, m: usize, v: usize, nn: usize, gp: usize, n: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, omb3: f32, bc1: f32, bc2: f32, bc3: f32,
  eps: f32, epsRoot: f32, wd: f32, lr: f32, first: bool, decay: bool, pl: usize,
): void {
  const f = pipeFlags(pl);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vomb2 = f32x4.splat(omb2);
  const vb3 = f32x4.splat(b3);
  const vomb3 = f32x4.splat(omb3);
  const vbc1 = f32x4.splat(bc1);
  const vbc2 = f32x4.splat(bc2);
  const vbc3 = f32x4.splat(bc3);
  const ve = f32x4.splat(eps);
  const ver = f32x4.splat(epsRoot);
  const vwd = f32x4.splat(wd);
  const vlr = f32x4.splat(lr);
  const zero = f32x4.splat(0);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const d = first ? zero : f32x4.sub(gi, v128.load(gp + o));
    const mi = adanMX4(gi, v128.load(m + o), vb1, vomb1);
    const vi = adanVX4(d, v128.load(v + o), vb2, vomb2);
    const ni = adanNX4(gi, d, v128.load(nn + o), vomb2, vb3, vomb3);
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    v128.store(nn + o, ni);
    v128.store(gp + o, gi);
    pipeStoreW(p + o, adanWX4(pipeW(v128.load(p + o), f, pl), mi, vi, ni, vomb2, vbc1, vbc2, vbc3, ve, ver, vwd, vlr, decay), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const d: f32 = first ? 0 : gi - load<f32>(gp + o);
    const mi = omb1 * gi + b1 * load<f32>(m + o);
    const vi = omb2 * d + b2 * load<f32>(v + o);
    const q = gi + omb2 * d;
    const ni = omb3 * (q * q) + b3 * load<f32>(nn + o);
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(nn + o, ni);
    store<f32>(gp + o, gi);
    let u = mi / bc1 + omb2 * (vi / bc2);
    u = u / (sqrt<f32>(ni / bc3 + epsRoot) + eps);
    const w = pipeW1(load<f32>(p + o), f, pl);
    if (decay) u = u + wd * w;
    pipeStoreW1(p + o, w - lr * u, f, pl);
  }
}
export function adan(
  p: usize, g: usize, m: usize, v: usize, nn: usize, gp: usize, n: i32,
  b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, omb3: f32, bc1: f32, bc2: f32, bc3: f32,
  eps: f32, epsRoot: f32, wd: f32, lr: f32, first: bool, decay: bool, pl: usize,
): void {
  if (first) {
    if (decay) body(p, g, m, v, nn, gp, n, b1, omb1, b2, omb2, b3, omb3, bc1, bc2, bc3, eps, epsRoot, wd, lr, true, true, pl);
    else body(p, g, m, v, nn, gp, n, b1, omb1, b2, omb2, b3, omb3, bc1, bc2, bc3, eps, epsRoot, wd, lr, true, false, pl);
  } else if (decay) body(p, g, m, v, nn, gp, n, b1, omb1, b2, omb2, b3, omb3, bc1, bc2, bc3, eps, epsRoot, wd, lr, false, true, pl);
  else body(p, g, m, v, nn, gp, n, b1, omb1, b2, omb2, b3, omb3, bc1, bc2, bc3, eps, epsRoot, wd, lr, false, false, pl);
}
