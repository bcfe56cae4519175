// Lion (Keras 3): signed interpolation of momentum and gradient, then the momentum update.
export const lion = {
  defaults: { learningRate: 0.001, beta1: 0.9, beta2: 0.99 },
  slots: () => ({ momentum: 0 }),
  update(g, w, s, lr, t, o) {
    const m = s.momentum;
    for (let i = 0; i < w.length; i++) {
      w[i] -= lr * Math.sign(o.beta1 * m[i] + (1 - o.beta1) * g[i]);
      m[i] = o.beta2 * m[i] + (1 - o.beta2) * g[i];
    }
  },
};
