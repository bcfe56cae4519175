// SGD (Keras 3): without momentum w -= g*lr; with momentum m = m*mu - g*lr, then w += m, or with
// nesterov w += m*mu - g*lr (using the new m). The step pipeline (unscale, clip, decay, EMA) folds
// in through `pl` (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// The per-vector momentum update, shared with the 8-bit kernel (sgd_int8.ts): one definition of the math.
/** The new momentum m*mu - g*lr, given glr = g*lr. */
// @ts-ignore: decorator
@inline
export function sgdMomentumX4(mi: v128, glr: v128, vmu: v128): v128 {
  return f32x4.sub(f32x4.mul(mi, vmu), glr);
}

/** The new weight: w + m (plain) or w + (m*mu - g*lr) (nesterov), with the new m. */
// @ts-ignore: decorator
@inline
export function sgdMomentumWX4(wi: v128, mn: v128, glr: v128, vmu: v128, nesterov: bool): v128 {
  return nesterov ? f32x4.add(wi, f32x4.sub(f32x4.mul(mn, vmu), glr)) : f32x4.add(wi, mn);
}

export function sgd(p: usize, g: usize, n: i32, lr: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const vlr = f32x4.splat(lr);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.mul(pipeG(v128.load(g + o), f, pl), vlr)), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - pipeG1(load<f32>(g + o), f, pl) * lr, f, pl);
  }
}

export function sgdMomentum(p: usize, g: usize, m: usize, n: i32, lr: f32, mu: f32, nesterov: bool, pl: usize): void {
  const f = pipeFlags(pl);
  const vlr = f32x4.splat(lr);
  const vmu = f32x4.splat(mu);
  const e = simdEnd(n);
  let i = 0;
  if (nesterov) {
    for (; i < e; i += 4) {
      const o = <usize>i << 2;
      const glr = f32x4.mul(pipeG(v128.load(g + o), f, pl), vlr);
      const mn = sgdMomentumX4(v128.load(m + o), glr, vmu);
      v128.store(m + o, mn);
      pipeStoreW(p + o, sgdMomentumWX4(pipeW(v128.load(p + o), f, pl), mn, glr, vmu, true), f, pl);
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const glr = pipeG1(load<f32>(g + o), f, pl) * lr;
      const mn = load<f32>(m + o) * mu - glr;
      store<f32>(m + o, mn);
      pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) + (mn * mu - glr), f, pl);
    }
  } else {
    for (; i < e; i += 4) {
      const o = <usize>i << 2;
      const glr = f32x4.mul(pipeG(v128.load(g + o), f, pl), vlr);
      const mn = sgdMomentumX4(v128.load(m + o), glr, vmu);
      v128.store(m + o, mn);
      pipeStoreW(p + o, sgdMomentumWX4(pipeW(v128.load(p + o), f, pl), mn, glr, vmu, false), f, pl);
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const mn = load<f32>(m + o) * mu - pipeG1(load<f32>(g + o), f, pl) * lr;
      store<f32>(m + o, mn);
      pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) + mn, f, pl);
    }
  }
}
