// Adadelta (Keras 3): moving averages of squared gradients and squared updates, epsilon inside both roots.
export const adadelta = {
  defaults: { learningRate: 0.001, rho: 0.95, epsilon: 1e-7 },
  slots: () => ({ accumulated_grad: 0, accumulated_delta_var: 0 }),
  update(g, w, s, lr, t, o) {
    const eg = s.accumulated_grad;
    const ex = s.accumulated_delta_var;
    for (let i = 0; i < w.length; i++) {
      eg[i] = o.rho * eg[i] + (1 - o.rho) * g[i] * g[i];
      const delta = (-Math.sqrt(ex[i] + o.epsilon) * g[i]) / Math.sqrt(eg[i] + o.epsilon);
      ex[i] = o.rho * ex[i] + (1 - o.rho) * delta * delta;
      w[i] += lr * delta;
    }
  },
};
