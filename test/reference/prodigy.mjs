// Prodigy (optax.contrib.prodigy), from its published formulas (Mishchenko & Defazio, as optax
// writes them). With d the current estimate (estim_lr), dlr = d * lr * sqrt(1 - b2^t) / (1 - b1^t):
//   per variable: ea = b1 ea + (1-b1) d g;  eas = b2 eas + (1-b2) (d g)^2;
//                 s = b3 s + c d g / d0 (c = d with safeguardWarmup, else dlr)
//   whole model:  nw = b3 nw + (d/d0) dlr <g, x0 - x>;  d' = max(d, coef nw / sum|s|)
//   per variable: w += -dlr ea / (sqrt(eas) + d' eps) - wd dlr w
// <g, x0 - x> sums the variables with a gradient this update; sum|s| every variable.
// optax computes the bias correction in float32 (b^t of a Python float and an int32 count is a
// float32): with b2 = 0.999, 1 - b2^t is 1.3e-5 off at t = 1 and 3e-5 at t = 2. grad_sum keeps
// every update's dlr (its decay is sqrt(b2)) and its elements cancel across updates, which
// amplifies that past the tolerance: this scalar is computed as optax's float32 does; the
// per-element math stays float64.
const f = Math.fround;
const bc = (o, t) => f(f(Math.sqrt(f(1 - f(f(o.beta2) ** t)))) / f(1 - f(f(o.beta1) ** t)));

export const prodigy = {
  defaults: {
    learningRate: 1, beta1: 0.9, beta2: 0.999, beta3: null, epsilon: 1e-8, estimLr0: 1e-6, estimLrCoef: 1, weightDecay: 0, safeguardWarmup: false,
  },
  ownsWeightDecay: true,
  slots: () => ({ exp_avg: 0, exp_avg_sq: 0, grad_sum: 0, params0: 0 }),
  initSlots(slots, values) {
    slots.params0.set(values);
  },
  globals: (o) => ({ d: o.estimLr0, nw: 0, dots: new Map() }),
  update(g, w, s, lr, t, o, gl, shape, variable) {
    const b3 = o.beta3 ?? Math.sqrt(o.beta2);
    const dlr = gl.d * lr * bc(o, t);
    const c = o.safeguardWarmup ? gl.d : dlr;
    let dot = 0;
    for (let i = 0; i < w.length; i++) {
      dot += g[i] * (s.params0[i] - w[i]);
      const dg = gl.d * g[i];
      s.exp_avg[i] = o.beta1 * s.exp_avg[i] + (1 - o.beta1) * dg;
      s.exp_avg_sq[i] = o.beta2 * s.exp_avg_sq[i] + (1 - o.beta2) * dg * dg;
      s.grad_sum[i] = b3 * s.grad_sum[i] + (c * dg) / o.estimLr0;
    }
    gl.dots.set(variable, dot);
  },
  afterUpdates(o, gl, t, lr, live, ref) {
    const b3 = o.beta3 ?? Math.sqrt(o.beta2);
    const d = gl.d;
    const dlr = d * lr * bc(o, t);
    let dot = 0;
    for (const v of live) dot += gl.dots.get(v);
    let den = 0;
    for (const st of ref.vars.values()) for (const x of st.slots.grad_sum) den += Math.abs(x);
    gl.nw = b3 * gl.nw + (d / o.estimLr0) * dlr * dot;
    const next = Math.max(d, (o.estimLrCoef * gl.nw) / den);
    for (const v of live) {
      const s = ref.state(v).slots;
      const w = v.values;
      const wd = v.noDecay ? 0 : o.weightDecay;
      for (let i = 0; i < w.length; i++) {
        w[i] += (-dlr * s.exp_avg[i]) / (Math.sqrt(s.exp_avg_sq[i]) + next * o.epsilon) - wd * dlr * w[i];
      }
    }
    gl.d = next;
  },
};
