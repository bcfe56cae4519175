// RMSprop (Keras 3): epsilon inside the sqrt, no bias correction, optional plain momentum and centering.
export const rmsprop = {
  defaults: { learningRate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false },
  slots: (o) => ({ velocity: 0, ...(o.momentum > 0 ? { momentum: 0 } : {}), ...(o.centered ? { average_gradient: 0 } : {}) }),
  update(g, w, s, lr, t, o) {
    for (let i = 0; i < w.length; i++) {
      s.velocity[i] = o.rho * s.velocity[i] + (1 - o.rho) * g[i] * g[i];
      let den = s.velocity[i] + o.epsilon;
      if (o.centered) {
        s.average_gradient[i] = o.rho * s.average_gradient[i] + (1 - o.rho) * g[i];
        den = s.velocity[i] - s.average_gradient[i] ** 2 + o.epsilon;
      }
      const inc = (lr * g[i]) / Math.sqrt(den);
      if (o.momentum > 0) {
        s.momentum[i] = o.momentum * s.momentum[i] + inc;
        w[i] -= s.momentum[i];
      } else w[i] -= inc;
    }
  },
};
