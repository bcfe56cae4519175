// Yogi (TensorFlow Addons): m = b1 m + (1-b1) g (none when b1 = 0: g is used);
// v += (1-b2) * act(g^2 - v) * g^2, act = sign or tanh(10 x); p = lr sqrt(1-b2^t)/(1-b1^t) / (sqrt(v) + eps);
// x = w - p m; then TFA's proximal step: l1 > 0: w = sign(x) max(|x| - l1 p, 0) / (1 + l2 p);
// else l2 > 0: w = x / (1 + l2 p); else w = x.
export const yogi = {
  defaults: {
    learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-3,
    l1RegularizationStrength: 0, l2RegularizationStrength: 0, initialAccumulatorValue: 1e-6, activation: 'sign',
  },
  slots: (o) => (o.beta1 > 0 ? { m: 0, v: o.initialAccumulatorValue } : { v: o.initialAccumulatorValue }),
  update(g, w, s, lr, t, o) {
    const alpha = (lr * Math.sqrt(1 - o.beta2 ** t)) / (1 - o.beta1 ** t);
    const l1 = o.l1RegularizationStrength;
    const l2 = o.l2RegularizationStrength;
    for (let i = 0; i < w.length; i++) {
      let d = g[i];
      if (o.beta1 > 0) d = s.m[i] = o.beta1 * s.m[i] + (1 - o.beta1) * g[i];
      const g2 = g[i] * g[i];
      const act = o.activation === 'tanh' ? Math.tanh(10 * (g2 - s.v[i])) : Math.sign(g2 - s.v[i]);
      s.v[i] += (1 - o.beta2) * act * g2;
      const p = alpha / (Math.sqrt(s.v[i]) + o.epsilon);
      const x = w[i] - p * d;
      if (l1 > 0) w[i] = (Math.sign(x) * Math.max(Math.abs(x) - l1 * p, 0)) / (1 + l2 * p);
      else if (l2 > 0) w[i] = x / (1 + l2 * p);
      else w[i] = x;
    }
  },
};
