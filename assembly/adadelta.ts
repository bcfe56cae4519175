// Adadelta (Keras 3), eps inside both square roots:
//   eg = rho*eg + (1-rho)*g^2;  d = sqrt(ex + eps) * g / sqrt(eg + eps);  ex = rho*ex + (1-rho)*d^2;  w -= lr*d
// (Keras writes delta = -d and w += lr*delta: the same numbers, since negation is exact.)
// The step pipeline (unscale, clip, decay, EMA) folds in through `pl` (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

export function adadelta(p: usize, g: usize, eg: usize, ex: usize, n: i32, rho: f32, omr: f32, lr: f32, eps: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const vrho = f32x4.splat(rho);
  const vomr = f32x4.splat(omr);
  const vlr = f32x4.splat(lr);
  const ve = f32x4.splat(eps);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const egi = f32x4.add(f32x4.mul(vrho, v128.load(eg + o)), f32x4.mul(vomr, f32x4.mul(gi, gi)));
    const exi = v128.load(ex + o);
    const d = f32x4.div(f32x4.mul(f32x4.sqrt(f32x4.add(exi, ve)), gi), f32x4.sqrt(f32x4.add(egi, ve)));
    v128.store(eg + o, egi);
    v128.store(ex + o, f32x4.add(f32x4.mul(vrho, exi), f32x4.mul(vomr, f32x4.mul(d, d))));
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.mul(vlr, d)), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const egi = rho * load<f32>(eg + o) + omr * (gi * gi);
    const exi = load<f32>(ex + o);
    const d = (sqrt<f32>(exi + eps) * gi) / sqrt<f32>(egi + eps);
    store<f32>(eg + o, egi);
    store<f32>(ex + o, rho * exi + omr * (d * d));
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - lr * d, f, pl);
  }
}
