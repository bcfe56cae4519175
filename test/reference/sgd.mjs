// SGD (Keras 3) with optional momentum and nesterov.
export const sgd = {
  defaults: { learningRate: 0.01, momentum: 0, nesterov: false },
  slots: (o) => (o.momentum ? { momentum: 0 } : {}),
  update(g, w, s, lr, t, o) {
    for (let i = 0; i < w.length; i++) {
      if (!o.momentum) {
        w[i] -= g[i] * lr;
        continue;
      }
      s.momentum[i] = s.momentum[i] * o.momentum - g[i] * lr;
      w[i] += o.nesterov ? s.momentum[i] * o.momentum - g[i] * lr : s.momentum[i];
    }
  },
};
