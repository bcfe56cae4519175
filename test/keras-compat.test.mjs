// Where we follow Keras 3 (and TensorFlow Addons) to the bit, and where we deliberately do not
// (docs/keras-compat.md). The references here are NOT float64: they replay Keras' own float32 op
// sequence, one Math.fround per tensor op, with every hyperparameter cast to float32 where Keras
// casts it (a Python float like `1 - self.beta_1` is computed in float64 and then cast once).
// Powers are modelled as the float32 rounding of the exact power.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as lib from '../build/index.js';
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
  const b1 = f(o.beta1), b2 = f(o.beta2), lr = f(o.learningRate), eps = f(1e-7), thr = f(o.smaThreshold ?? 5);
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

test('RAdam: 40 steps stay within float32 rounding of TensorFlow Addons (float32 powers and SMA, so the same rectified steps)', () => {
  // beta2 0.999, threshold 6: at t = 6 TFA's float32 SMA is 6.0005 (rectified step), float64's 5.9942.
  const opts = [
    { learningRate: 0.01, beta1: 0.9, beta2: 0.9999 },
    { learningRate: 0.01, beta1: 0.9, beta2: 0.95 },
    { learningRate: 0.01, beta1: 0.9, beta2: 0.999, smaThreshold: 6 },
  ];
  for (const [k, o] of opts.entries()) {
    const grads = gradients(40, 7, 50 + k);
    const w0 = Array.from({ length: 7 }, (_, i) => i / 7 - 0.5);
    const d = maxRelDiff(ours(() => new RAdam(o), grads, w0).w, tfaRAdam(o, grads, w0).w);
    assert.ok(d < 2e-6, `options ${JSON.stringify(o)}: max relative difference ${d}`);
  }
});

/**
 * Garbage collections during 200,000 steps of `make()` on `gradient`, in a fresh process with a 1 MiB
 * young generation (a boxed number per step fills it within ~60,000 steps), after 20,000 warm-up steps.
 */
async function collectionsPerSteadyState(imports, make, gradient) {
  const { spawnSync } = await import('node:child_process');
  const index = new URL('../build/index.js', import.meta.url).href;
  const code = `
    import { PerformanceObserver } from 'node:perf_hooks';
    const { ready, Variable, ${imports} } = await import(${JSON.stringify(index)});
    await ready();
    const w = Variable.zeros([16, 4], { name: 'w' });
    const gv = new Variable(Float32Array.from({ length: 64 }, (_, i) => (i % 7) / 50 - 0.06), { name: 'g' });
    const opt = ${make};
    opt.prepare([w]);
    const pairs = [[${gradient}, w]];
    for (let i = 0; i < 20000; i++) opt.applyGradients(pairs);
    let collections = 0;
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 10));
    const obs = new PerformanceObserver((list) => { collections += list.getEntries().length; });
    obs.observe({ entryTypes: ['gc'] });
    for (let i = 0; i < 200000; i++) opt.applyGradients(pairs);
    await new Promise((r) => setTimeout(r, 10));
    obs.disconnect();
    process.stdout.write(String(collections));`;
  const out = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.is(out.status, 0, out.stderr);
  const n = Number(out.stdout.trim());
  assert.ok(Number.isInteger(n), `probe output: ${out.stdout}${out.stderr}`);
  return n;
}

test('RAdam with totalSteps: steady-state warmup and decay steps allocate nothing', async () => {
  // totalSteps 5e6 and warmupProportion 0.5: every measured step is a warmup step; 0.001: a decay step.
  for (const p of [0.5, 0.001]) {
    assert.is(await collectionsPerSteadyState('RAdam', `new RAdam({ totalSteps: 5e6, warmupProportion: ${p} })`, 'gv.value'), 0, `warmupProportion ${p}`);
  }
});

test('LossScaleOptimizer: a steady-state sparse step allocates nothing (its snapshot and views are reused)', async () => {
  const sparse = '{ indices: Int32Array.from([3, 9, 3, 0]), values: gv.value.subarray(0, 16) }';
  for (const inner of ['SGD', 'Adam']) {
    assert.is(await collectionsPerSteadyState(`LossScaleOptimizer, ${inner}`, `new LossScaleOptimizer(new ${inner}(), { initialScale: 4 })`, sparse), 0, inner);
  }
});

// ------------------------------------------------------------ item 28: duplicate sparse rows

test('every optimizer but LazyAdam: duplicate sparse rows are summed first, giving the bits of the dense update of the densified gradient', () => {
  // Keras' tensorflow backend squares each IndexedSlices slice before summing duplicates (Adam's v,
  // Adagrad's accumulator, ...); its jax backend sums duplicates first, as we do (docs/keras-compat.md).
  const configs = [
    ['SGD', {}], ['SGD', { momentum: 0.9 }], ['Adam', {}], ['AdamW', { amsgrad: true }], ['Adamax', {}], ['Nadam', {}],
    ['RMSprop', {}], ['RMSprop', { momentum: 0.5, centered: true }], ['Adagrad', {}], ['Adadelta', { learningRate: 1 }],
    ['Ftrl', { l1RegularizationStrength: 0.001 }], ['Lion', {}], ['Lamb', {}], ['Adafactor', {}], ['Yogi', {}], ['RAdam', {}],
    ['Adam', { clipnorm: 0.5 }], ['SGD', { globalClipnorm: 0.3 }],
  ];
  const rows = 9, cols = 6;
  for (const [name, o] of configs) {
    const Cls = lib[name];
    const init = gradients(1, rows * cols, 7)[0];
    const a = new Variable(init, { shape: [rows, cols], name: 'emb' });
    const b = new Variable(init, { shape: [rows, cols], name: 'emb' });
    const oa = new Cls(o);
    const ob = new Cls(o);
    for (let s = 0; s < 6; s++) {
      const indices = Int32Array.from([(s * 5) % rows, 2, (s * 5) % rows, 7, 2, (s + 4) % rows]); // two duplicated rows
      const values = gradients(1, indices.length * cols, 100 + s)[0];
      const dense = new Float32Array(rows * cols);
      indices.forEach((row, k) => { for (let j = 0; j < cols; j++) dense[row * cols + j] += values[k * cols + j]; });
      oa.applyGradients([[{ indices, values }, a]]);
      ob.applyGradients([[dense, b]]);
    }
    const label = `${name} ${JSON.stringify(o)}`;
    assert.equal(Array.from(a.value), Array.from(b.value), `${label}: weights`);
    const sb = ob.getState().variables;
    for (const [k, e] of Object.entries(oa.getState().variables)) assert.equal(Array.from(e.values), Array.from(sb[k].values), `${label}: ${k}`);
    for (const x of [a, b, oa, ob]) x.dispose();
  }
});

// ------------------------------------------------------------ LossScaleOptimizer

test('LossScaleOptimizer: the inner optimizer\'s lossScaleFactor is set to null when wrapped, as in Keras (gradient 8 at scale 8: -1, not -0.25)', () => {
  const w = new Variable(new Float32Array([0]), { name: 'w' });
  const inner = new SGD({ learningRate: 1, lossScaleFactor: 4 });
  const opt = new LossScaleOptimizer(inner, { initialScale: 8 });
  assert.is(inner.lossScaleFactor, null);
  assert.is(inner.getConfig().lossScaleFactor, null);
  assert.is(opt.getConfig().inner.config.lossScaleFactor, null, 'serialised without it, as Keras does');
  opt.applyGradients([[new Float32Array([8]), w]]);
  assert.is(w.value[0], -1);
  opt.dispose();
  w.dispose();
});

test('LossScaleOptimizer: through Lookahead or SWA, the optimizer they wrap loses its lossScaleFactor too', async () => {
  const { Lookahead, SWA } = await import('../build/index.js');
  for (const Wrapper of [Lookahead, SWA]) {
    const w = new Variable(new Float32Array([0]), { name: 'w' });
    const sgd = new SGD({ learningRate: 1, lossScaleFactor: 4 });
    const opt = new LossScaleOptimizer(new Wrapper(sgd), { initialScale: 8 });
    assert.is(sgd.lossScaleFactor, null);
    opt.applyGradients([[new Float32Array([8]), w]]);
    assert.is(w.value[0], -1, Wrapper.className);
    opt.dispose();
    w.dispose();
  }
});

test('LossScaleOptimizer: a refused construction leaves the inner optimizer\'s lossScaleFactor alone', () => {
  const inner = new SGD({ learningRate: 1, lossScaleFactor: 4 });
  assert.throws(() => new LossScaleOptimizer(inner, { initialScale: -1 }), /initialScale/);
  assert.is(inner.lossScaleFactor, 4);
  inner.dispose();
});

test('LossScaleOptimizer: unscales by dividing by the float32 scale, as Keras (initial scale 3 and 0.1)', () => {
  const g = Float32Array.from({ length: 37 }, (_, i) => (i + 1) * 0.7);
  for (const initialScale of [3, 0.1, 1000]) {
    for (const simd of [true, false]) {
      setSimdEnabled(simd);
      try {
        const w = Variable.zeros([37], { name: 'w' });
        const opt = new LossScaleOptimizer(new SGD({ learningRate: 1 }), { initialScale });
        assert.is(opt.dynamicScale, f(initialScale), 'the scale is a float32');
        opt.applyGradients([[g, w]]);
        assert.equal(Array.from(w.value), Array.from(g, (x) => -f(x / f(initialScale))), `scale ${initialScale}`);
        opt.dispose();
        w.dispose();
      } finally {
        setSimdEnabled(true);
      }
    }
  }
});

test('LossScaleOptimizer (deliberate difference): with a scale below 1, a finite gradient that overflows when unscaled skips the step', () => {
  // Keras checks the scaled gradient (finite), divides by 0.5 (inf) and writes -inf into w.
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const opt = new LossScaleOptimizer(new SGD({ learningRate: 1 }), { initialScale: 0.5 });
  opt.applyGradients([[new Float32Array([3e38, 1]), w]]);
  assert.equal(Array.from(w.value), [1, 2], 'nothing applied');
  assert.is(opt.iterations, 0);
  assert.is(opt.nonFiniteSkips, 1);
  assert.is(opt.dynamicScale, 0.25, 'and the scale is halved');
  opt.dispose();
  w.dispose();
});

/**
 * A step whose gradient's field (read through `wrap`) answers differently on every read: the
 * wrapper must read it once, write no other memory, and give the plain gradient's result.
 */
function hostileStep(kind) {
  const rows = 4, cols = 4;
  const big = new Variable(new Float32Array(512).fill(1), { name: 'big' }); // in wasm memory: no JS bounds check
  const plainW = Variable.zeros([rows, cols], { name: 'w' });
  const w = Variable.zeros([rows, cols], { name: 'w2' });
  const plain = new LossScaleOptimizer(new SGD({ learningRate: 0.5 }), { initialScale: 4 });
  const opt = new LossScaleOptimizer(new SGD({ learningRate: 0.5 }), { initialScale: 4 });
  const small = new Float32Array(kind === 'dense' ? rows * cols : 2 * cols).map((_, i) => i + 1);
  const indices = new Int32Array([3, 1]);
  const make = (values) => (kind === 'dense' ? values : { indices, values });
  // Warm up (builds the slots and the unscaled buffer), then place neighbours after everything.
  plain.applyGradients([[make(small), plainW]]);
  opt.applyGradients([[make(small), w]]);
  const neighbours = Array.from({ length: 8 }, (_, i) => new Variable(new Float32Array(256).fill(7), { name: `n${i}` }));
  let reads = 0;
  const flip = () => (++reads % 2 === 1 ? small : big.value);
  let g;
  let pair;
  if (kind === 'getter') g = { indices, get values() { return flip(); } };
  else if (kind === 'proxy') g = new Proxy({ indices, values: small }, { get: (t, k) => (k === 'values' ? flip() : t[k]) });
  if (kind === 'dense') {
    pair = [null, w];
    Object.defineProperty(pair, 0, { get: flip, enumerable: true });
  } else pair = [g, w];
  let error = null;
  try {
    opt.applyGradients([pair]);
  } catch (e) {
    error = e;
  }
  plain.applyGradients([[make(small), plainW]]);
  for (const n of neighbours) assert.ok(n.value.every((x) => x === 7), `${kind}: neighbour '${n.name}' was written`);
  assert.ok(big.value.every((x) => x === 1), `${kind}: the other array was written`);
  assert.is(error, null, `${kind}: ${error}`);
  assert.is(reads, 1, `${kind}: read once`);
  assert.equal(Array.from(w.value), Array.from(plainW.value), `${kind}: same result as the plain gradient`);
  for (const x of [...neighbours, big, plainW, w, plain, opt]) x.dispose();
}

test('LossScaleOptimizer: a sparse gradient whose values getter changes on every read is read once (no write outside its buffer)', () => {
  hostileStep('getter');
});

test('LossScaleOptimizer: a Proxy sparse gradient whose values change on every read is read once', () => {
  hostileStep('proxy');
});

test('LossScaleOptimizer: a pair whose gradient getter changes on every read is read once', () => {
  hostileStep('dense');
});

test('LossScaleOptimizer: input it cannot snapshot is refused with the inner optimizer\'s message, nothing changed', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const opt = new LossScaleOptimizer(new SGD({ learningRate: 1 }), { initialScale: 2 });
  let reads = 0;
  const shifty = new Proxy([new Float32Array(2), w], { get: (t, k) => (k === 'length' ? (++reads === 1 ? 3 : 2) : t[k]) });
  assert.throws(() => opt.applyGradients([shifty]), /pairs\[0\] must be a \[gradient, variable\] pair/);
  assert.is(reads, 1);
  assert.throws(() => opt.applyGradients([[new Float32Array(2), w], { 0: new Float32Array(2), 1: w, length: 2 }]), /pairs\[1\] must be a \[gradient, variable\] pair/);
  assert.throws(() => opt.applyGradients([[new Proxy(new Float32Array(2), {}), w]]), /must be a Float32Array, a \{ indices, values \} sparse gradient or null/);
  assert.throws(() => opt.applyGradients([[{ indices: [0], values: [1, 2] }, Variable.zeros([1, 2], { name: 'x' })]]), /values/);
  assert.equal(Array.from(w.value), [1, 2]);
  assert.is(opt.iterations, 0);
  assert.is(opt.dynamicScale, 2);
  opt.dispose();
  w.dispose();
});

test.run();
