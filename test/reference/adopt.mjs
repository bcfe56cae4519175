// ADOPT (optax.contrib.adopt), from its published formulas (Taniguchi et al., as optax writes it):
// the gradient is divided by max(sqrt(nu_prev), eps) (the PREVIOUS second moment), clipped to
// [-c, c] with c = clipValueFn(count) (count^0.25 by default; none without useClipping), then
// averaged into mu, the update. At count 0 optax uses b1 = 1 and b2 = 0: nu = g^2, no step.
export const adopt = {
  defaults: { learningRate: 0.001, beta1: 0.9, beta2: 0.9999, epsilon: 1e-6, nesterov: false, useClipping: true, clipValueFn: null },
  slots: () => ({ mu: 0, nu: 0 }),
  update(g, w, s, lr, t, o) {
    const count = t - 1;
    // optax's b1_/b2_ are float32 arrays (jnp.where), so 1 - b uses the float32 b: with b2 = 0.9999
    // that is 1.00017e-4, not 1e-4, a difference the tolerance would see.
    const b1 = count > 0 ? Math.fround(o.beta1) : 1;
    const b2 = count > 0 ? Math.fround(o.beta2) : 0;
    const c = !o.useClipping ? Infinity : o.clipValueFn ? o.clipValueFn(count) : count ** 0.25;
    for (let i = 0; i < w.length; i++) {
      const x = Math.min(Math.max(g[i] / Math.max(Math.sqrt(s.nu[i]), o.epsilon), -c), c);
      s.nu[i] = (1 - b2) * g[i] * g[i] + b2 * s.nu[i];
      s.mu[i] = (1 - b1) * x + b1 * s.mu[i];
      w[i] -= lr * (o.nesterov ? (1 - b1) * x + b1 * s.mu[i] : s.mu[i]);
    }
  },
};
