// AdEMAMix (optax.contrib.ademamix), from its published formulas (Pagliardini et al., as optax
// writes them): m1, nu as Adam's (bias-corrected), a slow EMA m2 with decay b3 (not corrected),
// u = (m1_hat + alpha m2) / (sqrt(nu_hat + eps_root) + eps) + wd w, scaled by -lr. beta3 and alpha
// may be functions of the update count (t - 1), as optax's schedules.
// A schedule's value is a float32 array in optax (so 1 - b3 is a float32 op there); a constant is a
// Python float. With b3 near 0.9999 the difference is 1.7e-4 relative, which the tolerance would see.
const at = (x, count) => (typeof x === 'number' ? x : Math.fround(typeof x === 'function' ? x(count) : x.call(count)));

export const ademamix = {
  defaults: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, beta3: 0.9999, alpha: 5, epsilon: 1e-8, epsRoot: 0, weightDecay: 0 },
  ownsWeightDecay: true,
  slots: () => ({ m1: 0, m2: 0, nu: 0 }),
  update(g, w, s, lr, t, o, gl, shape, variable) {
    const wd = o.weightDecay && !variable.noDecay ? o.weightDecay : 0;
    const b3 = at(o.beta3, t - 1);
    const alpha = at(o.alpha, t - 1);
    for (let i = 0; i < w.length; i++) {
      s.m1[i] = (1 - o.beta1) * g[i] + o.beta1 * s.m1[i];
      s.m2[i] = (1 - b3) * g[i] + b3 * s.m2[i];
      s.nu[i] = (1 - o.beta2) * g[i] * g[i] + o.beta2 * s.nu[i];
      const m1Hat = s.m1[i] / (1 - o.beta1 ** t);
      const nuHat = s.nu[i] / (1 - o.beta2 ** t);
      const u = (m1Hat + alpha * s.m2[i]) / (Math.sqrt(nuHat + o.epsRoot) + o.epsilon);
      w[i] -= lr * (u + wd * w[i]);
    }
  },
};
