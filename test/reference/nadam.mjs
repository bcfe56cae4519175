// Nadam (Keras 3): momentum schedule mu_t = b1 (1 - 0.5 * 0.96^t) and its running product.
const mu = (o, t) => o.beta1 * (1 - 0.5 * 0.96 ** t);
export const nadam = {
  defaults: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  slots: () => ({ m: 0, v: 0 }),
  globals: () => ({ uProduct: 1 }),
  beforeUpdates(o, gl, t) {
    gl.uProduct *= mu(o, t);
  },
  update(g, w, s, lr, t, o, gl) {
    const uT = mu(o, t);
    const uNext = mu(o, t + 1);
    const prod = gl.uProduct;
    const prodNext = prod * uNext;
    for (let i = 0; i < w.length; i++) {
      s.m[i] += (g[i] - s.m[i]) * (1 - o.beta1);
      s.v[i] += (g[i] * g[i] - s.v[i]) * (1 - o.beta2);
      const mHat = (uNext * s.m[i]) / (1 - prodNext) + ((1 - uT) * g[i]) / (1 - prod);
      const vHat = s.v[i] / (1 - o.beta2 ** t);
      w[i] -= (mHat * lr) / (Math.sqrt(vHat) + o.epsilon);
    }
  },
};
