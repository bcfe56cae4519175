// Schedule-Free SGD (optax contrib, optax/contrib/_schedule_free.py: schedule_free_sgd). The
// variable holds y, the `z` slot the SGD iterate; optax's float32 ops per element:
//   u = g + wd*y (only with weight decay);  z' = z - lr*u
//   x' = (1-ck) * (y - (1-b1) z) / b1 + ck * z';  y' = y + ((b1 x' + (1-b1) z') - y)
// The last line is optax's `updates = new - params` followed by apply_updates (`params + updates`),
// which is not always `new` itself in float32. Same op order in the SIMD loop and the scalar tail.
// `pl`: the step pipeline (assembly/pipeline.ts): g through pipeG, y through pipeW on its one load
// (the contract; this optimizer's decay is optax's wd above, never the base class's), y' stored
// with the EMA.
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

export function scheduleFreeSGD(
  p: usize, g: usize, z: usize, n: i32,
  lr: f32, decay: i32, wd: f32, b1: f32, omb1: f32, ck: f32, omck: f32, pl: usize,
): void {
  const f = pipeFlags(pl);
  const vlr = f32x4.splat(lr);
  const vwd = f32x4.splat(wd);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vck = f32x4.splat(ck);
  const vomck = f32x4.splat(omck);
  const e = simdEnd(n);
  let i = 0;
  if (decay) {
    for (; i < e; i += 4) {
      const o = <usize>i << 2;
      const yi = pipeW(v128.load(p + o), f, pl);
      const zi = v128.load(z + o);
      const u = f32x4.add(pipeG(v128.load(g + o), f, pl), f32x4.mul(vwd, yi));
      const zn = f32x4.sub(zi, f32x4.mul(vlr, u));
      const xo = f32x4.div(f32x4.sub(yi, f32x4.mul(vomb1, zi)), vb1);
      const xn = f32x4.add(f32x4.mul(vomck, xo), f32x4.mul(vck, zn));
      const yn = f32x4.add(f32x4.mul(vb1, xn), f32x4.mul(vomb1, zn));
      pipeStoreW(p + o, f32x4.add(yi, f32x4.sub(yn, yi)), f, pl);
      v128.store(z + o, zn);
    }
  } else {
    for (; i < e; i += 4) {
      const o = <usize>i << 2;
      const yi = pipeW(v128.load(p + o), f, pl);
      const zi = v128.load(z + o);
      const zn = f32x4.sub(zi, f32x4.mul(vlr, pipeG(v128.load(g + o), f, pl)));
      const xo = f32x4.div(f32x4.sub(yi, f32x4.mul(vomb1, zi)), vb1);
      const xn = f32x4.add(f32x4.mul(vomck, xo), f32x4.mul(vck, zn));
      const yn = f32x4.add(f32x4.mul(vb1, xn), f32x4.mul(vomb1, zn));
      pipeStoreW(p + o, f32x4.add(yi, f32x4.sub(yn, yi)), f, pl);
      v128.store(z + o, zn);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const yi = pipeW1(load<f32>(p + o), f, pl);
    const zi = load<f32>(z + o);
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const u = decay ? gi + wd * yi : gi;
    const zn = zi - lr * u;
    const xo = (yi - omb1 * zi) / b1;
    const xn = omck * xo + ck * zn;
    const yn = b1 * xn + omb1 * zn;
    pipeStoreW1(p + o, yi + (yn - yi), f, pl);
    store<f32>(z + o, zn);
  }
}
