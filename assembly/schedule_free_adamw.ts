// Schedule-Free AdamW (Keras 3.14, keras/src/optimizers/schedule_free_adamw.py). The variable holds
// y (where gradients are taken), `z` (Keras' `momentum` slot) the plain Adam-style iterate, and the
// averaged point x is recovered from them: x = (y - (1-b1) z) / b1. Per element, in Keras' op order:
//   v += (g*g - v) * (1-b2);  z' = z - lr*g / (sqrt(v / bc2) + eps)
//   x' = (1-w) * (y - (1-b1) z) / b1 + w * z';  y' = (1-b1) z' + b1 x'
// with w = 1/t and lr already warmed up. Every operation is a single float32 op, in the same order
// in the SIMD loop and the scalar tail, so both give the same bits. `pl`: the step pipeline
// (assembly/pipeline.ts): g through pipeG, y decayed on its one load, y' stored with the EMA.
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

export function scheduleFreeAdamW(
  p: usize, g: usize, z: usize, v: usize, n: i32,
  lr: f32, omb2: f32, bc2: f32, eps: f32, b1: f32, omb1: f32, w: f32, omw: f32, pl: usize,
): void {
  const f = pipeFlags(pl);
  const vlr = f32x4.splat(lr);
  const vomb2 = f32x4.splat(omb2);
  const vbc2 = f32x4.splat(bc2);
  const veps = f32x4.splat(eps);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vw = f32x4.splat(w);
  const vomw = f32x4.splat(omw);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const zi = v128.load(z + o);
    const vi = v128.load(v + o);
    const vn = f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), vomb2));
    const den = f32x4.add(f32x4.sqrt(f32x4.div(vn, vbc2)), veps);
    const zn = f32x4.sub(zi, f32x4.div(f32x4.mul(vlr, gi), den));
    const xo = f32x4.div(f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.mul(vomb1, zi)), vb1);
    const xn = f32x4.add(f32x4.mul(vomw, xo), f32x4.mul(vw, zn));
    pipeStoreW(p + o, f32x4.add(f32x4.mul(vomb1, zn), f32x4.mul(vb1, xn)), f, pl);
    v128.store(z + o, zn);
    v128.store(v + o, vn);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const zi = load<f32>(z + o);
    const vi = load<f32>(v + o);
    const vn = vi + (gi * gi - vi) * omb2;
    const den = sqrt<f32>(vn / bc2) + eps;
    const zn = zi - (lr * gi) / den;
    const xo = (pipeW1(load<f32>(p + o), f, pl) - omb1 * zi) / b1;
    const xn = omw * xo + w * zn;
    pipeStoreW1(p + o, omb1 * zn + b1 * xn, f, pl);
    store<f32>(z + o, zn);
    store<f32>(v + o, vn);
  }
}

/**
 * The evaluation point of a schedule-free optimizer (Keras' swap_to_eval, optax's
 * schedule_free_eval_params), in place: y becomes x = (y - (1-b1) z) / b1. Shared by
 * ScheduleFreeAdamW and ScheduleFreeSGD, which pass their own float32 (1-b1) and b1.
 */
export function scheduleFreeEval(p: usize, z: usize, n: i32, omb1: f32, b1: f32): void {
  const vomb1 = f32x4.splat(omb1);
  const vb1 = f32x4.splat(b1);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    v128.store(p + o, f32x4.div(f32x4.sub(v128.load(p + o), f32x4.mul(vomb1, v128.load(z + o))), vb1));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(p + o, (load<f32>(p + o) - omb1 * load<f32>(z + o)) / b1);
  }
}
