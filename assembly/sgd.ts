// SGD (Keras 3): without momentum w -= g*lr; with momentum m = m*mu - g*lr, then w += m, or with
// nesterov w += m*mu - g*lr (using the new m).
import { simdEnd } from './simd';

export function sgd(p: usize, g: usize, n: i32, lr: f32): void {
  const vlr = f32x4.splat(lr);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(p + o, f32x4.sub(v128.load(p + o), f32x4.mul(v128.load(g + o), vlr)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(p + o, load<f32>(p + o) - load<f32>(g + o) * lr);
  }
}

export function sgdMomentum(p: usize, g: usize, m: usize, n: i32, lr: f32, mu: f32, nesterov: bool): void {
  const vlr = f32x4.splat(lr);
  const vmu = f32x4.splat(mu);
  const e = simdEnd(n);
  let i = 0;
  if (nesterov) {
    for (; i < e; i += 4) {
      const o = <usize>i << 2;
      const glr = f32x4.mul(v128.load(g + o), vlr);
      const mn = f32x4.sub(f32x4.mul(v128.load(m + o), vmu), glr);
      v128.store(m + o, mn);
      v128.store(p + o, f32x4.add(v128.load(p + o), f32x4.sub(f32x4.mul(mn, vmu), glr)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const glr = load<f32>(g + o) * lr;
      const mn = load<f32>(m + o) * mu - glr;
      store<f32>(m + o, mn);
      store<f32>(p + o, load<f32>(p + o) + (mn * mu - glr));
    }
  } else {
    for (; i < e; i += 4) {
      const o = <usize>i << 2;
      const mn = f32x4.sub(f32x4.mul(v128.load(m + o), vmu), f32x4.mul(v128.load(g + o), vlr));
      v128.store(m + o, mn);
      v128.store(p + o, f32x4.add(v128.load(p + o), mn));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const mn = load<f32>(m + o) * mu - load<f32>(g + o) * lr;
      store<f32>(m + o, mn);
      store<f32>(p + o, load<f32>(p + o) + mn);
    }
  }
}
