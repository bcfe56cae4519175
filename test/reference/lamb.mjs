// Lamb (Keras 3): Adam moments, r = m_hat / (sqrt(v_hat) + eps), w -= q * lr * r with the trust
// ratio q = ||w|| / ||r|| over the whole tensor (1 when either norm is 0).
export const lamb = {
  defaults: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  slots: () => ({ m: 0, v: 0 }),
  update(g, w, s, lr, t, o) {
    const r = new Float64Array(w.length);
    let rr = 0;
    let ww = 0;
    for (let i = 0; i < w.length; i++) {
      s.m[i] = o.beta1 * s.m[i] + (1 - o.beta1) * g[i];
      s.v[i] = o.beta2 * s.v[i] + (1 - o.beta2) * g[i] * g[i];
      r[i] = s.m[i] / (1 - o.beta1 ** t) / (Math.sqrt(s.v[i] / (1 - o.beta2 ** t)) + o.epsilon);
      rr += r[i] * r[i];
      ww += w[i] * w[i];
    }
    const q = ww > 0 && rr > 0 ? Math.sqrt(ww) / Math.sqrt(rr) : 1;
    for (let i = 0; i < w.length; i++) w[i] -= q * lr * r[i];
  },
};
