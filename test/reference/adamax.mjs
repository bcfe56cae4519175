// Adamax (Keras 3): infinity-norm second moment.
export const adamax = {
  defaults: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  slots: () => ({ m: 0, u: 0 }),
  update(g, w, s, lr, t, o) {
    for (let i = 0; i < w.length; i++) {
      s.m[i] += (g[i] - s.m[i]) * (1 - o.beta1);
      s.u[i] = Math.max(o.beta2 * s.u[i], Math.abs(g[i]));
      w[i] -= (lr * s.m[i]) / ((1 - o.beta1 ** t) * (s.u[i] + o.epsilon));
    }
  },
};
