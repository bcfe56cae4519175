// Lion (Keras 3): c = b1*m + (1-b1)*g;  w -= lr * sign(c);  m = b2*m + (1-b2)*g.
// sign(0) is 0 and sign(NaN) is NaN (as ops.sign), so a NaN gradient is not silently dropped.
// The step pipeline (unscale, clip, decay, EMA) folds in through `pl` (assembly/pipeline.ts).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// The per-vector update, shared with the 8-bit kernel (lion_int8.ts): one definition of the math.
/** w - lr * sign(b1*m + (1-b1)*g), with the old m. */
// @ts-ignore: decorator
@inline
export function lionWX4(wi: v128, mi: v128, gi: v128, vb1: v128, vomb1: v128, vlr: v128): v128 {
  const c = f32x4.add(f32x4.mul(vb1, mi), f32x4.mul(vomb1, gi));
  // sign(c): c's sign bit on 1.0, kept where c != 0 (so +-0 gives +0); a NaN lane gets all bits
  // set, which is a NaN.
  const s = v128.or(
    v128.and(v128.or(v128.and(c, i32x4.splat(0x80000000)), f32x4.splat(1)), f32x4.ne(c, f32x4.splat(0))),
    f32x4.ne(c, c),
  );
  return f32x4.sub(wi, f32x4.mul(vlr, s));
}

/** The new momentum b2*m + (1-b2)*g. */
// @ts-ignore: decorator
@inline
export function lionMX4(mi: v128, gi: v128, vb2: v128, vomb2: v128): v128 {
  return f32x4.add(f32x4.mul(vb2, mi), f32x4.mul(vomb2, gi));
}

export function lion(p: usize, g: usize, m: usize, n: i32, b1: f32, omb1: f32, b2: f32, omb2: f32, lr: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const vb1 = f32x4.splat(b1);
  const vomb1 = f32x4.splat(omb1);
  const vb2 = f32x4.splat(b2);
  const vomb2 = f32x4.splat(omb2);
  const vlr = f32x4.splat(lr);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const mi = v128.load(m + o);
    pipeStoreW(p + o, lionWX4(pipeW(v128.load(p + o), f, pl), mi, gi, vb1, vomb1, vlr), f, pl);
    v128.store(m + o, lionMX4(mi, gi, vb2, vomb2));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const mi = load<f32>(m + o);
    const c = b1 * mi + omb1 * gi;
    const s: f32 = c > 0 ? 1 : c < 0 ? -1 : c == 0 ? 0 : c;
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - lr * s, f, pl);
    store<f32>(m + o, b2 * mi + omb2 * gi);
  }
}
