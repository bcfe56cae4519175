// LazyAdam (TensorFlow Addons): Adam for dense gradients; for a sparse gradient only the rows it
// names are updated (m, v and w, with the global step's bias corrections) and every other row is
// left untouched. The caller says which rows were named: globals.touched maps a variable's values
// array to a Set of row indices for this step (absent: a dense step).
import { adam } from './adam.mjs';

export const lazyAdam = {
  defaults: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  slots: () => ({ m: 0, v: 0 }),
  globals: () => ({ touched: new Map() }),
  update(g, w, s, lr, t, o, gl, shape) {
    const rows = gl.touched.get(w);
    if (!rows) return adam.update(g, w, s, lr, t, { ...o, amsgrad: false });
    const alpha = (lr * Math.sqrt(1 - o.beta2 ** t)) / (1 - o.beta1 ** t);
    const row = w.length / shape[0];
    for (const r of rows) {
      for (let i = r * row; i < (r + 1) * row; i++) {
        s.m[i] = o.beta1 * s.m[i] + (1 - o.beta1) * g[i];
        s.v[i] = o.beta2 * s.v[i] + (1 - o.beta2) * g[i] * g[i];
        w[i] -= (alpha * s.m[i]) / (Math.sqrt(s.v[i]) + o.epsilon);
      }
    }
  },
};
