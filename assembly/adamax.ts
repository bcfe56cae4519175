// Adamax (Keras 3): m += (g - m)(1 - b1); u = max(b2*u, |g|); w -= lr*m / ((1 - b1^t)(u + eps)).
// The step pipeline (unscale, clip, decay, EMA) folds in through `pl` (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

export function adamax(p: usize, g: usize, m: usize, u: usize, n: i32, omb1: f32, b2: f32, lr: f32, bc1: f32, eps: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const c1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vlr = f32x4.splat(lr);
  const vbc = f32x4.splat(bc1);
  const ve = f32x4.splat(eps);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    let mi = v128.load(m + o);
    mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), c1));
    const ui = f32x4.max(f32x4.mul(vb2, v128.load(u + o)), f32x4.abs(gi));
    v128.store(m + o, mi);
    v128.store(u + o, ui);
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.div(f32x4.mul(vlr, mi), f32x4.mul(vbc, f32x4.add(ui, ve)))), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    let mi = load<f32>(m + o);
    mi += (gi - mi) * omb1;
    const ui = max<f32>(b2 * load<f32>(u + o), abs<f32>(gi));
    store<f32>(m + o, mi);
    store<f32>(u + o, ui);
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - (lr * mi) / (bc1 * (ui + eps)), f, pl);
  }
}
