// Nadam (Keras 3). TS computes the per-step scalars from the shared momentum product:
//   cm = mu_{t+1} / (1 - prod_t * mu_{t+1}), cg = (1 - mu_t) / (1 - prod_t), ibc2 = 1 / (1 - b2^t).
//   m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); mh = cm*m + cg*g; w -= mh*lr / (sqrt(v*ibc2) + eps).
// The step pipeline (unscale, clip, decay, EMA) folds in through `pl` (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

export function nadam(p: usize, g: usize, m: usize, v: usize, n: i32, omb1: f32, omb2: f32, cm: f32, cg: f32, ibc2: f32, lr: f32, eps: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const c1 = f32x4.splat(omb1);
  const c2 = f32x4.splat(omb2);
  const vcm = f32x4.splat(cm);
  const vcg = f32x4.splat(cg);
  const vib = f32x4.splat(ibc2);
  const vlr = f32x4.splat(lr);
  const ve = f32x4.splat(eps);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    let mi = v128.load(m + o);
    let vi = v128.load(v + o);
    mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), c1));
    vi = f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), c2));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const mh = f32x4.add(f32x4.mul(vcm, mi), f32x4.mul(vcg, gi));
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.div(f32x4.mul(mh, vlr), f32x4.add(f32x4.sqrt(f32x4.mul(vi, vib)), ve))), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    let mi = load<f32>(m + o);
    let vi = load<f32>(v + o);
    mi += (gi - mi) * omb1;
    vi += (gi * gi - vi) * omb2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const mh = cm * mi + cg * gi;
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - (mh * lr) / (sqrt<f32>(vi * ibc2) + eps), f, pl);
  }
}
