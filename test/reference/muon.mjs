// Muon, written from Keras 3's keras/src/optimizers/muon.py (read, not copied) as a float64
// reference, and the same code with Math.fround after every operation as a float32 emulation of
// the order assembly/muon.ts documents. Per 2-D variable (rows x cols) that is not excluded:
//   m += g + m*(momentum - 1);  G = nesterov ? g + momentum*m : m
//   X = G (transposed when rows > cols);  X /= (||X||_F + 1e-7)
//   nsSteps times: A = X·Xᵀ;  B = b*A + c*(A·A);  X = a*X + B·X    (Keras: b*A + (c*A)·A, equal in exact arithmetic)
//   w -= lr * X * sqrt(max(rows, cols)) * rmsRate   (rmsRate null: w -= lr * X), X transposed back
// Others (not 2-D, 'embedding' in the name with excludeEmbeddings, an excludeLayers match) take
// Adam at lr * adamLrRatio. Weight decay: weightDecay (Muon path) or adamWeightDecay (AdamW
// path), w -= w * wd * lr with the full learning rate, before the update, unless excluded.
import { RefOptimizer } from './base.mjs';
import { matmulRef, transposeRef } from './matmul.mjs';

export const MUON_DEFAULTS = {
  learningRate: 0.001, weightDecay: 0.004, adamBeta1: 0.9, adamBeta2: 0.999, adamWeightDecay: 0.004, epsilon: 1e-7,
  excludeLayers: [], excludeEmbeddings: true, muonA: 3.4445, muonB: -4.775, muonC: 2.0315, adamLrRatio: 1,
  momentum: 0.95, nsSteps: 5, nesterov: true, rmsRate: 0.2,
};

const exact = (x) => x;

/** Keras' _should_use_adamw, on the variable's name. */
export function usesAdamW(o, name, shape) {
  if (shape.length !== 2) return true;
  if (o.excludeEmbeddings && name.toLowerCase().includes('embedding')) return true;
  return (o.excludeLayers ?? []).some((re) => new RegExp(re).test(name));
}

/**
 * Keras' zeropower_via_newtonschulz5 on G (rows x cols): the orthogonalized matrix, rows x cols.
 * `round` = Math.fround emulates float32 (with the coefficients rounded to float32, as the kernel's
 * f32 parameters are, and the norm summed in float64 in index order, then rounded).
 */
export function newtonSchulzRef(G, rows, cols, o, round = exact) {
  const tall = rows > cols;
  const n = Math.min(rows, cols);
  const mm = Math.max(rows, cols);
  let X = Float64Array.from(tall ? transposeRef(G, rows, cols) : G);
  let sum = 0;
  for (const x of X) sum += x * x;
  const d = round(round(Math.sqrt(sum)) + round(1e-7));
  X = X.map((x) => round(x / d));
  const [a, b, c] = [round(o.muonA), round(o.muonB), round(o.muonC)];
  for (let s = 0; s < o.nsSteps; s++) {
    const A = matmulRef(X, X, n, mm, n, { transB: true, round });
    const P = matmulRef(A, A, n, n, n, { round });
    const B = P.map((p, i) => round(round(b * A[i]) + round(c * p)));
    X = matmulRef(B, X, n, n, mm, { d: X, s: a, round });
  }
  return tall ? transposeRef(X, n, mm) : X;
}

/** The Muon-path update of w (in place) and its momentum slot. */
export function muonStepRef(g, w, slots, lr, o, shape, round = exact) {
  const [rows, cols] = shape;
  const m = slots.momentum;
  const mu = round(o.momentum);
  const mum1 = round(o.momentum - 1);
  const G = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) {
    m[i] = round(m[i] + round(g[i] + round(m[i] * mum1)));
    G[i] = o.nesterov ? round(g[i] + round(mu * m[i])) : m[i];
  }
  const X = newtonSchulzRef(G, rows, cols, o, round);
  const scale = round(Math.sqrt(Math.max(rows, cols)));
  const rr = o.rmsRate === null ? null : round(o.rmsRate);
  for (let i = 0; i < w.length; i++) {
    let u = round(lr * X[i]);
    if (rr !== null) u = round(round(u * scale) * rr);
    w[i] = round(w[i] - u);
  }
}

/** Keras' _adamw_update_step (Adam without amsgrad) at lr * adamLrRatio, in float64. */
export function adamStepRef(g, w, slots, lr, t, o) {
  const alr = lr * o.adamLrRatio;
  const alpha = (alr * Math.sqrt(1 - o.adamBeta2 ** t)) / (1 - o.adamBeta1 ** t);
  const { momentum: m, velocity: v } = slots;
  for (let i = 0; i < w.length; i++) {
    m[i] += (g[i] - m[i]) * (1 - o.adamBeta1);
    v[i] += (g[i] * g[i] - v[i]) * (1 - o.adamBeta2);
    w[i] -= (m[i] * alpha) / (Math.sqrt(v[i]) + o.epsilon);
  }
}

const ROUTE = Symbol('muon route');

const spec = {
  defaults: MUON_DEFAULTS,
  slots: () => ({}), // made per variable by RefMuon.state (the AdamW path has one more)
  update(g, w, s, lr, t, o, globals, shape) {
    const route = s[ROUTE];
    const wd = route.adam ? o.adamWeightDecay : o.muonWeightDecayNow;
    if (wd !== null && wd !== undefined && !route.noDecay) for (let i = 0; i < w.length; i++) w[i] -= w[i] * wd * lr;
    if (route.adam) adamStepRef(g, w, s, lr, t, o);
    else muonStepRef(g, w, s, lr, o, shape);
  },
};

/**
 * The float64 reference optimizer (Keras' base pipeline from RefOptimizer). Each path's weight
 * decay is applied in the update, before it: per variable, the same as Keras' decay-all-then-update.
 */
export class RefMuon extends RefOptimizer {
  constructor(options = {}) {
    const muonWeightDecay = options.weightDecay === undefined ? MUON_DEFAULTS.weightDecay : options.weightDecay;
    super(spec, { ...options, weightDecay: null, muonWeightDecay });
  }

  /** A weightDecay given as a function of the step is evaluated at the learning rate's step. */
  apply(pairs) {
    const wd = this.o.muonWeightDecay;
    this.o.muonWeightDecayNow = typeof wd === 'function' ? wd(this.rawIt) : wd;
    return super.apply(pairs);
  }

  state(v) {
    let st = this.vars.get(v);
    if (!st) {
      const adam = usesAdamW(this.o, v.name, v.shape);
      const n = v.values.length;
      const slots = adam ? { momentum: new Float64Array(n), velocity: new Float64Array(n) } : { momentum: new Float64Array(n) };
      Object.defineProperty(slots, ROUTE, { value: { adam, noDecay: Boolean(v.noDecay) } });
      st = { slots, acc: new Float64Array(n), avg: new Float64Array(n) };
      this.vars.set(v, st);
    }
    return st;
  }
}
