// Muon (Keras 3), for a 2-D variable of rows x cols (the AdamW path reuses the adam kernel):
//   m += g + m*(mu - 1);  G = nesterov ? g + mu*m : m
//   X = G, transposed when rows > cols (so X is n x mm with n = min, mm = max);  X /= (||X||_F + 1e-7)
//   steps times: A = X·Xᵀ;  P = A·A;  B = b*A + c*P;  X = a*X + B·X
//   w -= ((lr * X) * sqrt(max(rows, cols))) * rmsRate   (scaled; unscaled: w -= lr * X), X transposed back.
// Keras writes B as `b * A + c * A @ A`, which Python groups as (c*A)·A; c*(A·A) is the same in
// exact arithmetic, and A·A is symmetric bit for bit, so matmulSym computes half of it.
// The Frobenius norm is summed in float64 in index order (the same in both paths), then rounded.
// `pl`: the step pipeline (assembly/pipeline.ts): the momentum pass reads g through pipeG, the apply
// pass loads w through pipeW and stores it with the EMA (Muon's own decay stays its decay() call).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';
import { matmulAdd, matmulPackFloats, matmulSym, transpose } from './matmul';

// @ts-ignore: decorator
@inline
function round4(n: i32): i32 {
  return (n + 3) & ~3;
}

/** Floats of scratch one Muon update of a rows x cols variable needs (two n x mm, two n x n, the pack). */
export function muonScratchFloats(rows: i32, cols: i32): i32 {
  const n = min(rows, cols);
  const mm = max(rows, cols);
  const pack = max(max(matmulPackFloats(mm, n), matmulPackFloats(n, n)), matmulPackFloats(n, mm));
  return 2 * round4(n * mm) + 2 * round4(n * n) + pack;
}

/** m += g + m*mum1 (mum1 = mu - 1); out = nesterov ? g + mu*m : m. */
export function muonMomentum(m: usize, g: usize, out: usize, len: i32, mu: f32, mum1: f32, nesterov: bool, pl: usize): void {
  const f = pipeFlags(pl);
  const vmu = f32x4.splat(mu);
  const vmum1 = f32x4.splat(mum1);
  const e = simdEnd(len);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    let mi = v128.load(m + o);
    mi = f32x4.add(mi, f32x4.add(gi, f32x4.mul(mi, vmum1)));
    v128.store(m + o, mi);
    v128.store(out + o, nesterov ? f32x4.add(gi, f32x4.mul(vmu, mi)) : mi);
  }
  for (; i < len; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    let mi = load<f32>(m + o);
    mi = mi + (gi + mi * mum1);
    store<f32>(m + o, mi);
    store<f32>(out + o, nesterov ? gi + mu * mi : mi);
  }
}

/** x /= (f32(||x||_F) + 1e-7), the sum of squares taken in float64 in index order. */
export function muonNormalize(x: usize, len: i32): void {
  let acc: f64 = 0;
  for (let i = 0; i < len; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    acc += v * v;
  }
  const norm = <f32>Math.sqrt(acc);
  const d: f32 = norm + <f32>1e-7;
  const vd = f32x4.splat(d);
  const e = simdEnd(len);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.div(v128.load(x + o), vd));
  }
  for (; i < len; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) / d);
  }
}

/** p = b*a + c*p (B from A and P = A·A). */
export function muonPoly(p: usize, a: usize, len: i32, b: f32, c: f32): void {
  const vb = f32x4.splat(b);
  const vc = f32x4.splat(c);
  const e = simdEnd(len);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(p + o, f32x4.add(f32x4.mul(vb, v128.load(a + o)), f32x4.mul(vc, v128.load(p + o))));
  }
  for (; i < len; i++) {
    const o = <usize>i << 2;
    store<f32>(p + o, b * load<f32>(a + o) + c * load<f32>(p + o));
  }
}

/**
 * `steps` Newton-Schulz iterations on x (n x mm, n <= mm, already normalized), ping-ponging with y;
 * aa and pp are n x n scratch. Returns the buffer holding the result (x or y).
 */
export function newtonSchulz(x: usize, y: usize, aa: usize, pp: usize, pack: usize, n: i32, mm: i32, steps: i32, a: f32, b: f32, c: f32): usize {
  for (let s = 0; s < steps; s++) {
    matmulSym(aa, x, x, n, mm, true, pack); // A = X·Xᵀ
    matmulSym(pp, aa, aa, n, n, false, pack); // P = A·A
    muonPoly(pp, aa, n * n, b, c); // B = b*A + c*P
    matmulAdd(y, pp, x, n, n, mm, x, a, pack); // X' = a*X + B·X
    const t = x;
    x = y;
    y = t;
  }
  return x;
}

/** w -= scaled ? ((lr * x) * scale) * rr : lr * x. */
export function muonApply(w: usize, x: usize, len: i32, lr: f32, scale: f32, rr: f32, scaled: bool, pl: usize): void {
  const f = pipeFlags(pl);
  const vlr = f32x4.splat(lr);
  const vs = f32x4.splat(scale);
  const vr = f32x4.splat(rr);
  const e = simdEnd(len);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    let u = f32x4.mul(vlr, v128.load(x + o));
    if (scaled) u = f32x4.mul(f32x4.mul(u, vs), vr);
    pipeStoreW(w + o, f32x4.sub(pipeW(v128.load(w + o), f, pl), u), f, pl);
  }
  for (; i < len; i++) {
    const o = <usize>i << 2;
    let u = lr * load<f32>(x + o);
    if (scaled) u = u * scale * rr;
    pipeStoreW1(w + o, pipeW1(load<f32>(w + o), f, pl) - u, f, pl);
  }
}

/**
 * The whole Muon update of a rows x cols variable w with gradient g and momentum slot mom, using
 * muonScratchFloats(rows, cols) floats at scratch (16-byte aligned). Nothing allocates.
 */
export function muonUpdate(
  w: usize, g: usize, mom: usize, scratch: usize, rows: i32, cols: i32,
  mu: f32, mum1: f32, nesterov: bool, steps: i32, a: f32, b: f32, c: f32,
  lr: f32, scale: f32, rr: f32, scaled: bool, pl: usize,
): void {
  const n = min(rows, cols);
  const mm = max(rows, cols);
  const len = rows * cols;
  const x0 = scratch;
  const x1 = x0 + (<usize>round4(n * mm) << 2);
  const aa = x1 + (<usize>round4(n * mm) << 2);
  const pp = aa + (<usize>round4(n * n) << 2);
  const pack = pp + (<usize>round4(n * n) << 2);
  const tall = rows > cols;
  muonMomentum(mom, g, tall ? x1 : x0, len, mu, mum1, nesterov, pl);
  if (tall) transpose(x0, x1, rows, cols);
  muonNormalize(x0, len);
  let r = newtonSchulz(x0, x1, aa, pp, pack, n, mm, steps, a, b, c);
  if (tall) {
    const other = r == x0 ? x1 : x0;
    transpose(other, r, n, mm);
    r = other;
  }
  muonApply(w, r, len, lr, scale, rr, scaled, pl);
}
