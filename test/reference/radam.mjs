// Rectified Adam (TensorFlow Addons' RectifiedAdam). Optional warmup: with totalSteps > 0,
// W = totalSteps * warmupProportion, D = max(totalSteps - W, 1): lr_t = lr t/W while t <= W, else
// lr + (minLr - lr) / D * min(t - W, D). sma_inf = 2/(1-b2) - 1, sma_t = sma_inf - 2 t b2^t/(1-b2^t).
// m, v as Adam (amsgrad: vhat = max(vhat, v) replaces v); m_hat = m/(1-b1^t), v_hat = sqrt(v/(1-b2^t)).
// sma_t >= smaThreshold: w -= lr_t r_t m_hat / (v_hat + eps), r_t = sqrt((sma_t-4)(sma_t-2) sma_inf /
// ((sma_inf-4)(sma_inf-2) sma_t)); otherwise w -= lr_t m_hat.
export const radam = {
  defaults: {
    learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, amsgrad: false,
    smaThreshold: 5, totalSteps: 0, warmupProportion: 0.1, minLr: 0,
  },
  slots: (o) => (o.amsgrad ? { m: 0, v: 0, vhat: 0 } : { m: 0, v: 0 }),
  update(g, w, s, lr, t, o) {
    let lrT = lr;
    if (o.totalSteps > 0) {
      const W = o.totalSteps * o.warmupProportion;
      const D = Math.max(o.totalSteps - W, 1);
      lrT = t <= W ? lr * (t / W) : lr + ((o.minLr - lr) / D) * Math.min(t - W, D);
    }
    const smaInf = 2 / (1 - o.beta2) - 1;
    const sma = smaInf - (2 * t * o.beta2 ** t) / (1 - o.beta2 ** t);
    const rT = Math.sqrt((((sma - 4) / (smaInf - 4)) * (sma - 2) * smaInf) / (smaInf - 2) / sma);
    for (let i = 0; i < w.length; i++) {
      s.m[i] = o.beta1 * s.m[i] + (1 - o.beta1) * g[i];
      s.v[i] = o.beta2 * s.v[i] + (1 - o.beta2) * g[i] * g[i];
      let v = s.v[i];
      if (o.amsgrad) v = s.vhat[i] = Math.max(s.vhat[i], v);
      const mHat = s.m[i] / (1 - o.beta1 ** t);
      const vHat = Math.sqrt(v / (1 - o.beta2 ** t));
      w[i] -= sma >= o.smaThreshold ? (lrT * rT * mHat) / (vHat + o.epsilon) : lrT * mHat;
    }
  },
};
