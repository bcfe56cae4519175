// Adan (optax.adan: scale_by_adan, add_decayed_weights, learning rate), from its published
// formulas (Xie et al., Algorithm 1, as optax writes it): the difference from the previous gradient
// is 0 at the first update (optax's t == 0); the update is
//   (m_hat + (1 - b2) v_hat) / (sqrt(n_hat + eps_root) + eps) + wd * w, scaled by -lr.
export const adan = {
  defaults: { learningRate: 0.001, beta1: 0.98, beta2: 0.92, beta3: 0.99, epsilon: 1e-8, epsRoot: 1e-8, weightDecay: 0 },
  ownsWeightDecay: true,
  slots: () => ({ m: 0, v: 0, n: 0, previous_gradient: 0 }),
  update(g, w, s, lr, t, o, gl, shape, variable) {
    const wd = o.weightDecay && !variable.noDecay ? o.weightDecay : 0;
    for (let i = 0; i < w.length; i++) {
      const d = t === 1 ? 0 : g[i] - s.previous_gradient[i];
      s.m[i] = (1 - o.beta1) * g[i] + o.beta1 * s.m[i];
      s.v[i] = (1 - o.beta2) * d + o.beta2 * s.v[i];
      const q = g[i] + (1 - o.beta2) * d;
      s.n[i] = (1 - o.beta3) * q * q + o.beta3 * s.n[i];
      s.previous_gradient[i] = g[i];
      const mHat = s.m[i] / (1 - o.beta1 ** t);
      const vHat = s.v[i] / (1 - o.beta2 ** t);
      const nHat = s.n[i] / (1 - o.beta3 ** t);
      const u = (mHat + (1 - o.beta2) * vHat) / (Math.sqrt(nHat + o.epsRoot) + o.epsilon);
      w[i] -= lr * (u + wd * w[i]);
    }
  },
};
