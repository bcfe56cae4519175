// Adam / AdamW (Keras 3): epsilon is added to sqrt(v) before the bias correction.
export const adam = {
  defaults: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, amsgrad: false },
  slots: (o) => (o.amsgrad ? { m: 0, v: 0, vhat: 0 } : { m: 0, v: 0 }),
  update(g, w, s, lr, t, o) {
    const alpha = (lr * Math.sqrt(1 - o.beta2 ** t)) / (1 - o.beta1 ** t);
    for (let i = 0; i < w.length; i++) {
      s.m[i] += (g[i] - s.m[i]) * (1 - o.beta1);
      s.v[i] += (g[i] * g[i] - s.v[i]) * (1 - o.beta2);
      let v = s.v[i];
      if (o.amsgrad) v = s.vhat[i] = Math.max(s.vhat[i], v);
      w[i] -= (s.m[i] * alpha) / (Math.sqrt(v) + o.epsilon);
    }
  },
};

export const adamw = { ...adam, defaults: { ...adam.defaults, weightDecay: 0.004 } };
