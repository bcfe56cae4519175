// Prodigy (optax contrib `prodigy`), in optax's float32 op order. Its step size d (optax's
// estim_lr) needs two sums over the whole model, so an update is two passes:
//   prodigyMoments (per variable): dg = d*g;  ea = b1*ea + omb1*dg;  eas = b2*eas + (omb2*dg)*dg;
//     s = b3*s + (sc*dg)/d0;  returns sum(g*(p0 - w)) and leaves sum|s| in prodigyAbs();
//   (TS: d' = max(d, coef*nw / sum|s|) over every variable)
//   prodigyApply (per variable): u = (-dlr*ea) / (sqrt(eas) + d'*eps);  [u = u - (wd*dlr)*w];  w = w + u.
// Sums are float64, each product exact (f32 x f32), accumulated in four interleaved lanes (element
// i in lane i % 4) combined as (l0 + l1) + (l2 + l3): the same order on the SIMD and the scalar
// path, so the same bits on both (optax sums in float32, in XLA's order).
import { simdEnd } from './simd';

let absSum: f64 = 0;

/** sum|s| of the last prodigyMoments call. */
export function prodigyAbs(): f64 {
  return absSum;
}

// @ts-ignore: decorator
@inline
function hi(v: v128): v128 {
  return v128.swizzle(v, i8x16(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
}

export function prodigyMoments(
  p: usize, g: usize, p0: usize, ea: usize, eas: usize, s: usize, n: i32,
  d: f32, b1: f32, omb1: f32, b2: f32, omb2: f32, b3: f32, sc: f32, d0: f32,
): f64 {
  const vd = f32x4.splat(d);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vomb2 = f32x4.splat(omb2);
  const vb3 = f32x4.splat(b3);
  const vsc = f32x4.splat(sc);
  const vd0 = f32x4.splat(d0);
  let dot01 = f64x2.splat(0);
  let dot23 = f64x2.splat(0);
  let abs01 = f64x2.splat(0);
  let abs23 = f64x2.splat(0);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const diff = f32x4.sub(v128.load(p0 + o), v128.load(p + o));
    dot01 = f64x2.add(dot01, f64x2.mul(f64x2.promote_low_f32x4(gi), f64x2.promote_low_f32x4(diff)));
    dot23 = f64x2.add(dot23, f64x2.mul(f64x2.promote_low_f32x4(hi(gi)), f64x2.promote_low_f32x4(hi(diff))));
    const dg = f32x4.mul(vd, gi);
    v128.store(ea + o, f32x4.add(f32x4.mul(vb1, v128.load(ea + o)), f32x4.mul(vomb1, dg)));
    v128.store(eas + o, f32x4.add(f32x4.mul(vb2, v128.load(eas + o)), f32x4.mul(f32x4.mul(vomb2, dg), dg)));
    const si = f32x4.add(f32x4.mul(vb3, v128.load(s + o)), f32x4.div(f32x4.mul(vsc, dg), vd0));
    v128.store(s + o, si);
    const a = f32x4.abs(si);
    abs01 = f64x2.add(abs01, f64x2.promote_low_f32x4(a));
    abs23 = f64x2.add(abs23, f64x2.promote_low_f32x4(hi(a)));
  }
  let dl0 = f64x2.extract_lane(dot01, 0);
  let dl1 = f64x2.extract_lane(dot01, 1);
  let dl2 = f64x2.extract_lane(dot23, 0);
  let dl3 = f64x2.extract_lane(dot23, 1);
  let al0 = f64x2.extract_lane(abs01, 0);
  let al1 = f64x2.extract_lane(abs01, 1);
  let al2 = f64x2.extract_lane(abs23, 0);
  let al3 = f64x2.extract_lane(abs23, 1);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const prod = <f64>gi * <f64>(load<f32>(p0 + o) - load<f32>(p + o));
    const dg = d * gi;
    store<f32>(ea + o, b1 * load<f32>(ea + o) + omb1 * dg);
    store<f32>(eas + o, b2 * load<f32>(eas + o) + (omb2 * dg) * dg);
    const si = b3 * load<f32>(s + o) + (sc * dg) / d0;
    store<f32>(s + o, si);
    const a = <f64>abs<f32>(si);
    const lane = i & 3;
    if (lane == 0) { dl0 += prod; al0 += a; }
    else if (lane == 1) { dl1 += prod; al1 += a; }
    else if (lane == 2) { dl2 += prod; al2 += a; }
    else { dl3 += prod; al3 += a; }
  }
  absSum = (al0 + al1) + (al2 + al3);
  return (dl0 + dl1) + (dl2 + dl3);
}

/** sum|s| in prodigyMoments' order (a variable without a gradient this update still counts). */
export function prodigySumAbs(s: usize, n: i32): f64 {
  let a01 = f64x2.splat(0);
  let a23 = f64x2.splat(0);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const a = f32x4.abs(v128.load(s + (<usize>i << 2)));
    a01 = f64x2.add(a01, f64x2.promote_low_f32x4(a));
    a23 = f64x2.add(a23, f64x2.promote_low_f32x4(hi(a)));
  }
  let l0 = f64x2.extract_lane(a01, 0);
  let l1 = f64x2.extract_lane(a01, 1);
  let l2 = f64x2.extract_lane(a23, 0);
  let l3 = f64x2.extract_lane(a23, 1);
  for (; i < n; i++) {
    const a = <f64>abs<f32>(load<f32>(s + (<usize>i << 2)));
    const lane = i & 3;
    if (lane == 0) l0 += a;
    else if (lane == 1) l1 += a;
    else if (lane == 2) l2 += a;
    else l3 += a;
  }
  return (l0 + l1) + (l2 + l3);
}

// @ts-ignore: decorator
@inline
function apply(p: usize, ea: usize, eas: usize, n: i32, ndlr: f32, deps: f32, wdd: f32, decay: bool): void {
  const vndlr = f32x4.splat(ndlr);
  const vdeps = f32x4.splat(deps);
  const vwdd = f32x4.splat(wdd);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    let u = f32x4.div(f32x4.mul(vndlr, v128.load(ea + o)), f32x4.add(f32x4.sqrt(v128.load(eas + o)), vdeps));
    const w = v128.load(p + o);
    if (decay) u = f32x4.sub(u, f32x4.mul(vwdd, w));
    v128.store(p + o, f32x4.add(w, u));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let u = (ndlr * load<f32>(ea + o)) / (sqrt<f32>(load<f32>(eas + o)) + deps);
    const w = load<f32>(p + o);
    if (decay) u = u - wdd * w;
    store<f32>(p + o, w + u);
  }
}

export function prodigyApply(p: usize, ea: usize, eas: usize, n: i32, ndlr: f32, deps: f32, wdd: f32, decay: bool): void {
  if (decay) apply(p, ea, eas, n, ndlr, deps, wdd, true);
  else apply(p, ea, eas, n, ndlr, deps, wdd, false);
}
