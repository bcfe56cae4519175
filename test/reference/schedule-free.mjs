// Schedule-free references in float64, from the published formulas (Defazio et al. 2024, "The
// Road Less Scheduled"), as Keras 3.14's ScheduleFreeAdamW and optax's schedule_free_sgd state
// them. The variable holds y; z starts as a copy of it; x is recovered as (y - (1-b1) z) / b1.

/** x from y and z (Keras' swap_to_eval, optax's schedule_free_eval_params). */
export function evalPoint(y, z, b1) {
  return Float64Array.from(y, (yi, i) => (yi - (1 - b1) * z[i]) / b1);
}

/** One averaging step: z' given, x' = (1-c) x + c z', y' = (1-b1) z' + b1 x'. */
function average(w, zOld, zNew, c, b1, i) {
  const x = (w[i] - (1 - b1) * zOld) / b1;
  const xn = (1 - c) * x + c * zNew;
  w[i] = (1 - b1) * zNew + b1 * xn;
}

// Keras 3.14: lr warms up as lr * min(t / warmup_steps, 1); z takes an RMSprop step with Adam's
// bias-corrected second moment; the averaging weight is 1/t. Weight decay is the base class's.
export const scheduleFreeAdamW = {
  defaults: { learningRate: 0.0025, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, warmupSteps: 0 },
  slots: () => ({ momentum: 0, velocity: 0 }),
  initSlots: (s, values) => s.momentum.set(values),
  update(g, w, s, lr, t, o) {
    const rate = o.warmupSteps > 0 ? lr * Math.min(t / o.warmupSteps, 1) : lr;
    const bc2 = 1 - o.beta2 ** t;
    for (let i = 0; i < w.length; i++) {
      s.velocity[i] += (g[i] * g[i] - s.velocity[i]) * (1 - o.beta2);
      const z = s.momentum[i];
      s.momentum[i] = z - (rate * g[i]) / (Math.sqrt(s.velocity[i] / bc2) + o.epsilon);
      average(w, z, s.momentum[i], 1 / t, o.beta1, i);
    }
  },
};

// optax: with warmup_steps the rate is a linear warmup from 0 (count c -> lr * min(c, W) / W); the
// SGD step uses it at c = t - 1, the averaging weight at c = t: max_lr = max over steps,
// c_t = max_lr^p / sum of max_lr^p. weight_decay adds wd * y to the gradient.
const warm = (lr, c, W) => (W ? (lr * Math.min(c, W)) / W : lr);
export const scheduleFreeSGD = {
  defaults: { learningRate: 1, warmupSteps: null, beta1: 0.9, weightDecay: null, weightLrPower: 2 },
  ownsWeightDecay: true,
  slots: () => ({ z: 0 }),
  initSlots: (s, values) => s.z.set(values),
  globals: () => ({ maxLr: 0, weightSum: 0, c: 0, lr: 0, t: 0 }),
  /** Once per update (at its first variable): the step's rate and averaging weight. */
  step(o, G, t, lr) {
    if (G.t === t) return;
    G.t = t;
    G.lr = warm(lr, t - 1, o.warmupSteps);
    G.maxLr = Math.max(G.maxLr, warm(lr, t, o.warmupSteps));
    const weight = G.maxLr ** o.weightLrPower;
    G.weightSum += weight;
    G.c = G.weightSum === 0 ? 0 : weight / G.weightSum;
  },
  update(g, w, s, lr, t, o, G, shape, v) {
    this.step(o, G, t, lr);
    const wd = v.noDecay ? 0 : o.weightDecay ?? 0;
    for (let i = 0; i < w.length; i++) {
      const z = s.z[i];
      s.z[i] = z - G.lr * (g[i] + wd * w[i]);
      average(w, z, s.z[i], G.c, o.beta1, i);
    }
  },
};
