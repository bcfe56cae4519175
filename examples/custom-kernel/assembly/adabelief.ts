// AdaBelief (Zhuang et al., NeurIPS 2020), one fused in-place pass per variable:
//   m += (g - m)(1 - b1);  s += ((g - m)^2 - s)(1 - b2) + eps   (m is the new m)
//   w -= stepSize * m / (sqrt(s) + epsHat)
// The TypeScript side folds the bias corrections into the two scalars:
//   stepSize = lr * sqrt(1 - b2^t) / (1 - b1^t),  epsHat = eps * sqrt(1 - b2^t)
// which is exactly the paper's w -= lr * mhat / (sqrt(shat) + eps).
//
// Compiled against wasm-optim's memory (docs/custom-kernel.md): pointers are byte offsets into the
// imported memory, n counts float32 elements. Nothing here allocates, uses strings or static
// arrays, or keeps state, so the module has no data segments and no start function: instantiating
// it writes nothing into the shared memory.

/** SIMD path: f32x4 over the first n & ~3 elements, then the scalar kernel for the tail. */
export function adabelief(w: usize, g: usize, m: usize, s: usize, n: i32, omb1: f32, omb2: f32, eps: f32, stepSize: f32, epsHat: f32): void {
  const c1 = f32x4.splat(omb1);
  const c2 = f32x4.splat(omb2);
  const ve = f32x4.splat(eps);
  const vs = f32x4.splat(stepSize);
  const vh = f32x4.splat(epsHat);
  const end = n & ~3;
  for (let i = 0; i < end; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const mi = f32x4.add(v128.load(m + o), f32x4.mul(f32x4.sub(gi, v128.load(m + o)), c1));
    const d = f32x4.sub(gi, mi);
    const si = f32x4.add(f32x4.add(v128.load(s + o), f32x4.mul(f32x4.sub(f32x4.mul(d, d), v128.load(s + o)), c2)), ve);
    v128.store(m + o, mi);
    v128.store(s + o, si);
    v128.store(w + o, f32x4.sub(v128.load(w + o), f32x4.div(f32x4.mul(vs, mi), f32x4.add(f32x4.sqrt(si), vh))));
  }
  // The tail runs the scalar kernel, whose lane-wise operations are the same IEEE float32 ones in
  // the same order, so SIMD and scalar results are bit-identical.
  const o = <usize>end << 2;
  adabeliefScalar(w + o, g + o, m + o, s + o, n - end, omb1, omb2, eps, stepSize, epsHat);
}

/** Scalar path: the reference loop, also used for the SIMD path's tail. */
export function adabeliefScalar(w: usize, g: usize, m: usize, s: usize, n: i32, omb1: f32, omb2: f32, eps: f32, stepSize: f32, epsHat: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const mi = load<f32>(m + o) + (gi - load<f32>(m + o)) * omb1;
    const d = gi - mi;
    const si = load<f32>(s + o) + (d * d - load<f32>(s + o)) * omb2 + eps;
    store<f32>(m + o, mi);
    store<f32>(s + o, si);
    store<f32>(w + o, load<f32>(w + o) - (stepSize * mi) / (sqrt<f32>(si) + epsHat));
  }
}
