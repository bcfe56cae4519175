// The noisy quadratic the 8-bit quality tests train on (test/int8-state, int8-adan, int8-ademamix):
// loss(w) = mean(c * (w - target)^2) with log-normal curvatures c, gradients with a fixed stream of
// noise, one variable of n elements starting at zero.
import * as assert from 'uvu/assert';
import { Variable } from '../../build/index.js';
import { rng } from './random.mjs';

export function noisyQuadratic(seed, n = 4096) {
  const r = rng(seed);
  const c = Float32Array.from({ length: n }, () => Math.exp(r.normal()));
  const target = r.f32(n);
  const noise = r.f32(1 << 16);
  const loss = (w) => {
    let l = 0;
    for (let i = 0; i < n; i++) l += c[i] * (w[i] - target[i]) ** 2;
    return l / n;
  };
  /**
   * Trains a fresh `make()` for `steps` steps; at each step t (0-based) where `when(t)` holds, the
   * loss is checked finite and handed to `observe(t, loss)`. Returns the final loss.
   */
  const train = (label, make, steps, when, observe) => {
    const w = Variable.zeros([n], { name: 'w' });
    const opt = make();
    const g = new Float32Array(n);
    let off = 0;
    for (let t = 0; t < steps; t++) {
      const wv = w.value;
      for (let i = 0; i < n; i++) g[i] = c[i] * (wv[i] - target[i]) + 0.3 * noise[(off + i) & 0xffff];
      off += 7919;
      opt.applyGradients([[g, w]]);
      if (when(t)) {
        const l = loss(w.value);
        assert.ok(Number.isFinite(l), `${label}: loss at step ${t + 1} is ${l}`);
        observe(t, l);
      }
    }
    const final = loss(w.value);
    opt.dispose();
    w.dispose();
    return final;
  };
  return { n, loss, initial: loss(new Float32Array(n)), train };
}
