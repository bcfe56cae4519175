// Ftrl (Keras 3): FTRL-Proximal with L1, L2 (plus beta / (2 lr)) and L2 shrinkage.
export const ftrl = {
  defaults: {
    learningRate: 0.001, learningRatePower: -0.5, initialAccumulatorValue: 0.1, l1RegularizationStrength: 0,
    l2RegularizationStrength: 0, l2ShrinkageRegularizationStrength: 0, beta: 0,
  },
  slots: (o) => ({ accumulator: o.initialAccumulatorValue, linear: 0 }),
  update(g, w, s, lr, t, o) {
    const p = -o.learningRatePower;
    const l1 = o.l1RegularizationStrength;
    const l2 = o.l2RegularizationStrength + o.beta / (2 * lr);
    const n = s.accumulator;
    const z = s.linear;
    for (let i = 0; i < w.length; i++) {
      const gShrunk = g[i] + 2 * o.l2ShrinkageRegularizationStrength * w[i];
      const nNew = n[i] + g[i] * g[i];
      z[i] += gShrunk - ((nNew ** p - n[i] ** p) / lr) * w[i];
      w[i] = (Math.min(Math.max(z[i], -l1), l1) - z[i]) / (nNew ** p / lr + 2 * l2);
      n[i] = nNew;
    }
  },
};
