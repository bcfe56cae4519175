// Where we follow Keras 3 (and TensorFlow Addons) to the bit, and where we deliberately do not
// (docs/keras-compat.md). The references here are NOT float64: they replay Keras' own float32 op
// sequence, one Math.fround per tensor op, with every hyperparameter cast to float32 where Keras
// casts it (a Python float like `1 - self.beta_1` is computed in float64 and then cast once).
// Powers are modelled as the float32 rounding of the exact power.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ready, setSimdEnabled, Variable, Adam, Adamax, Nadam, Lion, RAdam, Yogi, SGD, LossScaleOptimizer,
} from '../build/index.js';

await ready();

const f = Math.fround;

/** Deterministic float32 gradients: steps x n, in [-2, 2). */
function gradients(steps, n, seed) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: steps }, () => Float32Array.from({ length: n }, () => rnd() * 4 - 2));
}

/** Runs `make()` over `grads` on a fresh variable, with SIMD on and off; both runs must agree. */
function ours(make, grads, w0, slotNames = []) {
  const runs = [true, false].map((simd) => {
    setSimdEnabled(simd);
    try {
      const w = new Variable(Float32Array.from(w0), { name: 'w' });
      const opt = make();
      for (const g of grads) opt.applyGradients([[g, w]]);
      const out = { w: Float32Array.from(w.value), slots: Object.fromEntries(slotNames.map((n) => [n, Float32Array.from(opt.getSlot(w, n).value)])) };
      opt.dispose();
      w.dispose();
      return out;
    } finally {
      setSimdEnabled(true);
    }
  });
  assert.equal(runs[0], runs[1], 'SIMD and scalar paths agree');
  return runs[0];
}

// ------------------------------------------------------------ Keras' float32 op sequences

function kerasAdam(o, grads, w0) {
  const b1 = f(o.beta1), b2 = f(o.beta2), lr = f(o.learningRate), eps = f(o.epsilon ?? 1e-7);
  const omb1 = f(1 - o.beta1), omb2 = f(1 - o.beta2); // Python floats: `1 - self.beta_1`
  const w = Float32Array.from(w0), m = new Float32Array(w.length), v = new Float32Array(w.length), vh = new Float32Array(w.length);
  grads.forEach((g, k) => {
    const t = k + 1;
    const b1p = f(b1 ** t), b2p = f(b2 ** t);
    const alpha = f(f(lr * f(Math.sqrt(f(1 - b2p)))) / f(1 - b1p));
    for (let i = 0; i < w.length; i++) {
      m[i] = f(m[i] + f(f(g[i] - m[i]) * omb1));
      v[i] = f(v[i] + f(f(f(g[i] * g[i]) - v[i]) * omb2));
      let vv = v[i];
      if (o.amsgrad) vv = vh[i] = Math.max(vh[i], v[i]);
      w[i] = f(w[i] - f(f(m[i] * alpha) / f(f(Math.sqrt(vv)) + eps)));
    }
  });
  return { w, slots: { m, v } };
}

function kerasAdamax(o, grads, w0) {
  const b1 = f(o.beta1), b2 = f(o.beta2), lr = f(o.learningRate), eps = f(1e-7), omb1 = f(1 - o.beta1);
  const w = Float32Array.from(w0), m = new Float32Array(w.length), u = new Float32Array(w.length);
  grads.forEach((g, k) => {
    const bc = f(1 - f(b1 ** (k + 1)));
    for (let i = 0; i < w.length; i++) {
      m[i] = f(m[i] + f(f(g[i] - m[i]) * omb1));
      u[i] = Math.max(f(b2 * u[i]), Math.abs(g[i]));
      w[i] = f(w[i] - f(f(lr * m[i]) / f(bc * f(u[i] + eps))));
    }
  });
  return { w, slots: { m, u } };
}

function kerasLion(o, grads, w0) {
  // Keras casts beta_1 and beta_2 to float32 tensors, then computes 1.0 - beta in float32.
  const b1 = f(o.beta1), b2 = f(o.beta2), lr = f(o.learningRate), omb1 = f(1 - b1), omb2 = f(1 - b2);
  const w = Float32Array.from(w0), m = new Float32Array(w.length);
  for (const g of grads) {
    for (let i = 0; i < w.length; i++) {
      const c = f(f(m[i] * b1) + f(g[i] * omb1));
      w[i] = f(w[i] - f(lr * Math.sign(c)));
      m[i] = f(f(m[i] * b2) + f(g[i] * omb2));
    }
  }
  return { w, slots: { momentum: m } };
}

function kerasNadam(o, grads, w0) {
  const b1 = f(o.beta1 ?? 0.9), b2 = f(o.beta2 ?? 0.999), lr = f(o.learningRate), eps = f(o.epsilon ?? 1e-7), decay = f(0.96);
  const w = Float32Array.from(w0), m = new Float32Array(w.length), v = new Float32Array(w.length);
  const factor = (t) => f(1 - f(0.5 * f(decay ** t)));
  let prod = f(1);
  grads.forEach((g, k) => {
    const t = k + 1;
    prod = f(f(prod * b1) * factor(t)); // _backend_update_step, before the variables
    const ut = f(b1 * factor(t)), ut1 = f(b1 * factor(t + 1)), prod1 = f(prod * ut1), b2p = f(b2 ** t);
    for (let i = 0; i < w.length; i++) {
      m[i] = f(m[i] + f(f(g[i] - m[i]) * f(1 - b1)));
      v[i] = f(v[i] + f(f(f(g[i] * g[i]) - v[i]) * f(1 - b2)));
      const mh = f(f(f(ut1 * m[i]) / f(1 - prod1)) + f(f(f(1 - ut) * g[i]) / f(1 - prod)));
      const vh = f(v[i] / f(1 - b2p));
      w[i] = f(w[i] - f(f(mh * lr) / f(f(Math.sqrt(vh)) + eps)));
    }
  });
  return { w };
}

// TensorFlow Addons' RectifiedAdam (dense, no warmup, no amsgrad): float32 hyperparameter tensors.
function tfaRAdam(o, grads, w0) {
  const b1 = f(o.beta1), b2 = f(o.beta2), lr = f(o.learningRate), eps = f(1e-7), thr = f(5);
  const w = Float32Array.from(w0), m = new Float32Array(w.length), v = new Float32Array(w.length);
  grads.forEach((g, k) => {
    const t = k + 1;
    const b1p = f(b1 ** t), b2p = f(b2 ** t), omb1 = f(1 - b1), omb2 = f(1 - b2);
    const rc1 = f(1 / f(1 - b1p)), rc2 = f(1 / f(1 - b2p));
    const smaInf = f(f(2 / omb2) - 1);
    const sma = f(smaInf - f(f(f(2 * t) * b2p) * rc2));
    const rt = f(Math.sqrt(f(f(f(f(f(f(sma - 4) / f(smaInf - 4)) * f(sma - 2)) / f(smaInf - 2)) * smaInf) / sma)));
    for (let i = 0; i < w.length; i++) {
      m[i] = f(f(b1 * m[i]) + f(omb1 * g[i]));
      const mc = f(m[i] * rc1);
      v[i] = f(f(b2 * v[i]) + f(omb2 * f(g[i] * g[i])));
      const vc = f(Math.sqrt(f(v[i] * rc2)));
      const u = sma >= thr ? f(f(rt * mc) / f(vc + eps)) : mc;
      w[i] = f(w[i] - f(lr * u));
    }
  });
  return { w };
}

// TensorFlow Addons' Yogi with beta1 = 0 (no first moment), sign activation, no l1/l2.
function tfaYogiNoMomentum(o, grads, w0) {
  const b2 = f(o.beta2), lr = f(o.learningRate), eps = f(o.epsilon ?? 1e-3);
  const w = Float32Array.from(w0), v = new Float32Array(w.length).fill(f(1e-6));
  grads.forEach((g, k) => {
    const t = k + 1;
    const alpha = f(f(lr * f(Math.sqrt(f(1 - f(b2 ** t))))) / f(1 - 0));
    for (let i = 0; i < w.length; i++) {
      const g2 = f(g[i] * g[i]);
      v[i] = f(v[i] + f(f(f(1 - b2) * Math.sign(f(g2 - v[i]))) * g2));
      const pc = f(alpha / f(f(Math.sqrt(v[i])) + eps));
      w[i] = f(w[i] - f(pc * g[i]));
    }
  });
  return { w, slots: { v } };
}

function maxRelDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-30));
  return d;
}

// ------------------------------------------------------------ item 25: float32 scalars

test('Nadam: one step at lr 1, beta2 0.9999, g 1 gives Keras\' -1.0627877 (beta2 cast to float32 before 1 - beta2)', () => {
  const r = ours(() => new Nadam({ learningRate: 1, beta2: 0.9999 }), [new Float32Array([1])], [0]);
  assert.is(r.w[0], f(-1.0627877));
  assert.is(r.w[0], kerasNadam({ learningRate: 1, beta2: 0.9999 }, [new Float32Array([1])], [0]).w[0]);
});

test('Nadam: 30 steps at beta2 0.9999 stay within float32 rounding of Keras (no drifting bias correction)', () => {
  for (const [seed, o] of [[1, { learningRate: 0.01, beta2: 0.9999 }], [2, { learningRate: 0.1, beta1: 0.7, beta2: 0.99 }], [3, { learningRate: 0.01 }]]) {
    const grads = gradients(30, 7, seed);
    const w0 = Array.from({ length: 7 }, (_, i) => i / 7 - 0.5);
    const d = maxRelDiff(ours(() => new Nadam(o), grads, w0).w, kerasNadam(o, grads, w0).w);
    // Before the fix: 1e-5 and growing (1 - beta2 in float64, beta2^t from the float32 beta2).
    assert.ok(d < 2e-6, `seed ${seed}: max relative difference ${d}`);
  }
});

test('Adam (and amsgrad): every bit of weights and moments equals Keras\' float32 ops, SIMD and scalar', () => {
  // beta2 0.3: 1 - beta2^t is not exact in float32, so alpha's op order shows.
  const opts = [
    { learningRate: 0.01, beta1: 0.9, beta2: 0.999 },
    { learningRate: 0.37, beta1: 0.5, beta2: 0.3, amsgrad: true },
    { learningRate: 0.001, beta1: 0.8, beta2: 0.9999 },
    { learningRate: 3, beta1: 0.123, beta2: 0.456, epsilon: 1e-3 },
  ];
  opts.forEach((o, k) => {
    const grads = gradients(25, 11, 10 + k);
    const w0 = Array.from({ length: 11 }, (_, i) => (i - 5) / 3);
    assert.equal(ours(() => new Adam(o), grads, w0, ['m', 'v']), kerasAdam(o, grads, w0), `options ${JSON.stringify(o)}`);
  });
});

test('Adamax: every bit equals Keras\' float32 ops', () => {
  for (const [k, o] of [{ learningRate: 0.01, beta1: 0.9, beta2: 0.999 }, { learningRate: 0.3, beta1: 0.3, beta2: 0.7 }].entries()) {
    const grads = gradients(20, 9, 20 + k);
    const w0 = Array.from({ length: 9 }, (_, i) => i / 4);
    assert.equal(ours(() => new Adamax(o), grads, w0, ['m', 'u']), kerasAdamax(o, grads, w0));
  }
});

test('Lion: weights and momentum equal Keras\' float32 ops (1 - beta from the float32 beta)', () => {
  for (const [k, o] of [{ learningRate: 0.01, beta1: 0.9, beta2: 0.99 }, { learningRate: 0.5, beta1: 0.3, beta2: 0.7 }].entries()) {
    const grads = gradients(20, 9, 30 + k);
    const w0 = Array.from({ length: 9 }, (_, i) => i / 4);
    assert.equal(ours(() => new Lion(o), grads, w0, ['momentum']), kerasLion(o, grads, w0));
  }
});

test('Yogi (beta1 0): every bit equals TensorFlow Addons\' float32 ops (1 - beta2 from the float32 beta2)', () => {
  for (const [k, o] of [{ learningRate: 0.01, beta2: 0.9999 }, { learningRate: 0.1, beta2: 0.3 }].entries()) {
    const grads = gradients(20, 9, 40 + k);
    const w0 = Array.from({ length: 9 }, (_, i) => i / 4);
    assert.equal(ours(() => new Yogi({ ...o, beta1: 0 }), grads, w0, ['v']), tfaYogiNoMomentum(o, grads, w0));
  }
});

test('RAdam: 40 steps at beta2 0.9999 stay within float32 rounding of TensorFlow Addons (float32 powers and SMA)', () => {
  for (const [k, o] of [{ learningRate: 0.01, beta1: 0.9, beta2: 0.9999 }, { learningRate: 0.01, beta1: 0.9, beta2: 0.95 }].entries()) {
    const grads = gradients(40, 7, 50 + k);
    const w0 = Array.from({ length: 7 }, (_, i) => i / 7 - 0.5);
    const d = maxRelDiff(ours(() => new RAdam(o), grads, w0).w, tfaRAdam(o, grads, w0).w);
    assert.ok(d < 2e-6, `options ${JSON.stringify(o)}: max relative difference ${d}`);
  }
});

test.run();
