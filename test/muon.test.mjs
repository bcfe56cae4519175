// Muon (Keras 3 semantics) against test/reference/muon.mjs: bit for bit against the float32
// emulation of the kernel's documented order, within a justified tolerance of the float64
// reference (Newton-Schulz in float64) through Keras' whole base pipeline, SIMD = scalar, the
// AdamW path = AdamW, state round trips, sparse gradients, scratch allocated once, and a small
// dense model that trains.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AdamW, Arena, instantiateKernels, kernelModule, Lookahead, LossScaleOptimizer, MultiOptimizer, Muon, Optimizer, OptimizerMap, ready, setSimdEnabled, Variable, defaultHeap } from '../build/index.js';
import { MUON_DEFAULTS, muonStepRef, newtonSchulzRef, RefMuon, usesAdamW } from './reference/muon.mjs';
import { assertSameBits, ATOL, baseCombos, RTOL } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';

await ready();

const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
function sameBits(label, got, want) {
  assert.is(got.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], Math.fround(want[i]))) assert.unreachable(`${label}[${i}]: ${got[i]} != ${want[i]}`);
}

// ---------------------------------------------------------------- the kernel's exact arithmetic

const MUON_SHAPES = [[9, 7], [5, 13], [1, 6], [6, 1], [33, 33], [40, 3]];

test('Muon path: the float32 emulation of the documented order, bit for bit, over several steps (rows > cols, rows < cols, a row, a column, square)', () => {
  const variants = [{}, { nesterov: false }, { rmsRate: null }, { nsSteps: 0 }, { nsSteps: 1 }, { momentum: 0.9 }, { muonA: 2, muonB: -1.5, muonC: 0.5 }, { weightDecay: 0.1 }, { learningRate: 0.02, weightDecay: 0.3, nsSteps: 3 }];
  const r = rng(11);
  for (const variant of variants) {
    const o = { ...MUON_DEFAULTS, learningRate: 0.1, ...variant };
    for (const shape of MUON_SHAPES) {
      const n = shape[0] * shape[1];
      const init = r.f32(n);
      const w = new Variable(init, { shape, name: 'dense/kernel' });
      const opt = new Muon({ learningRate: 0.1, ...variant });
      const ref = Float64Array.from(init);
      const m = new Float64Array(n);
      const lr = Math.fround(o.learningRate);
      for (let s = 0; s < 4; s++) {
        const g = r.f32(n, 0.5);
        opt.applyGradients([[g, w]]);
        if (o.weightDecay !== null) {
          const c = Math.fround(Math.fround(o.weightDecay) * lr);
          for (let i = 0; i < n; i++) ref[i] = Math.fround(ref[i] - Math.fround(ref[i] * c));
        }
        muonStepRef(Float64Array.from(g), ref, { momentum: m }, lr, o, shape, Math.fround);
      }
      const label = `${JSON.stringify(variant)} ${shape}`;
      sameBits(`${label} weights`, w.value, ref);
      sameBits(`${label} momentum`, opt.getSlot(w, 'momentum').value, m);
      opt.dispose();
      w.dispose();
    }
  }
});

test('Muon path, larger shapes (products over more than one k block and column block of the kernel): bit for bit', () => {
  const r = rng(13);
  for (const shape of [[300, 37], [20, 600], [1, 700], [261, 259]]) {
    const n = shape[0] * shape[1];
    const init = r.f32(n);
    const w = new Variable(init, { shape, name: 'k' });
    const opt = new Muon({ learningRate: 0.1, weightDecay: null });
    const ref = Float64Array.from(init);
    const m = new Float64Array(n);
    for (let s = 0; s < 2; s++) {
      const g = r.f32(n, 0.5);
      opt.applyGradients([[g, w]]);
      muonStepRef(Float64Array.from(g), ref, { momentum: m }, Math.fround(0.1), { ...MUON_DEFAULTS, weightDecay: null }, shape, Math.fround);
    }
    sameBits(`${shape} weights`, w.value, ref);
    sameBits(`${shape} momentum`, opt.getSlot(w, 'momentum').value, m);
    opt.dispose();
    w.dispose();
  }
});

test('Newton-Schulz: within 2e-5 * max|ref| of the float64 iteration', () => {
  // Tolerance: each of the 5 iterations sums products over k <= 200 terms in float32 (unit
  // roundoff u = 6e-8; a random-walk error of about sqrt(k)*u ~ 1e-6 relative), and the quintic's
  // slope (up to a = 3.44 at small singular values) carries earlier errors forward. Measured
  // <= 3e-6 of max|X| on these shapes; 2e-5 leaves a margin of ~7 while a wrong coefficient,
  // grouping or transposition moves the result by 1e-2 or more. The float32 emulation above pins
  // the exact bits; this pins the float64 meaning.
  // With w = 0, momentum 0, learning rate 1, rmsRate null and no decay, one step leaves w = -X exactly.
  const r = rng(12);
  for (const shape of [...MUON_SHAPES, [64, 200], [128, 96]]) {
    const n = shape[0] * shape[1];
    for (const nsSteps of [1, 5]) {
      const g = r.f32(n);
      const w = Variable.zeros(shape, { name: 'k' });
      const opt = new Muon({ learningRate: 1, momentum: 0, rmsRate: null, weightDecay: null, nsSteps });
      opt.applyGradients([[g, w]]);
      const X = newtonSchulzRef(Float64Array.from(g), shape[0], shape[1], { ...MUON_DEFAULTS, nsSteps });
      const scale = X.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
      for (let i = 0; i < n; i++) {
        if (!(Math.abs(-w.value[i] - X[i]) <= 2e-5 * scale)) assert.unreachable(`${shape} nsSteps ${nsSteps} [${i}]: ${-w.value[i]} vs float64 ${X[i]}`);
      }
      // the iteration does what it is for: the singular values of X move toward 1 (X·Xᵀ near I, loosely)
      if (nsSteps === 5 && shape[0] === 33) {
        const [rows, cols] = shape;
        let diag = 0;
        for (let i = 0; i < rows; i++) for (let k = 0; k < cols; k++) diag += X[i * cols + k] ** 2;
        assert.ok(diag / Math.min(rows, cols) > 0.5 && diag / Math.min(rows, cols) < 1.3, `mean squared singular value ${diag / rows}`);
      }
      opt.dispose();
      w.dispose();
    }
  }
});

// ---------------------------------------------------------------- the float64 reference, whole pipeline

/** Variables of every route: AdamW by rank, by 'embedding', by excludeLayers; Muon tall, wide, square. */
const VARS = [
  { shape: [1], name: 'dense/bias' },
  { shape: [17], name: 'dense_1/bias' },
  { shape: [9, 7], name: 'dense/kernel' }, // sparse gradients on odd steps
  { shape: [5, 13], name: 'dense_1/kernel' },
  { shape: [6, 4], name: 'token_Embedding/embeddings' },
  { shape: [3, 5], name: 'output_dense/kernel' },
  { shape: [2, 3, 4], name: 'conv/kernel' },
  { shape: [17, 17], name: 'square/kernel' },
];

function gradients(r, step) {
  return VARS.map(({ shape }, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (k === 1 && step % 4 === 3) return null;
    if (k === 2 && step % 2 === 1) {
      const count = step % 4 === 1 ? 0 : 5;
      const indices = Int32Array.from({ length: count }, (_, i) => (i === 1 ? 0 : r.int(shape[0])));
      if (count) indices[count - 1] = indices[0]; // duplicates, unsorted
      return { indices, values: r.f32(count * shape[1], 0.3) };
    }
    return r.f32(n, 0.3);
  });
}

function runOurs(options, steps, seed) {
  const r = rng(seed);
  const init = VARS.map(({ shape }) => r.f32(shape.reduce((a, b) => a * b, 1)));
  const vars = VARS.map(({ shape, name }, k) => new Variable(init[k], { shape, name }));
  const { noDecayNames, ...opts } = options;
  const opt = new Muon(opts);
  if (noDecayNames) opt.excludeFromWeightDecay({ names: ['dense_1'] });
  const grads = [];
  const copy = (gs) => gs.map((g) => (g === null ? null : ArrayBuffer.isView(g) ? g.slice() : { indices: g.indices.slice(), values: g.values.slice() }));
  for (let s = 0; s < steps; s++) {
    const gs = gradients(r, s);
    grads.push(copy(gs));
    if (opts.skipNonFinite && (s === 3 || s === 5)) {
      // A call with one non-finite value (a Muon-path matrix, then an AdamW-path vector) is skipped and changes nothing.
      const bad = copy(gs);
      (s === 3 ? bad[3] : bad[1])[2] = s === 3 ? NaN : -Infinity;
      opt.applyGradients(bad.map((g, k) => [g, vars[k]]));
    }
    opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
  }
  if (opts.skipNonFinite) assert.is(opt.nonFiniteSkips, 2, 'non-finite calls skipped');
  return { opt, vars, init, grads };
}

function close(label, ours, ref) {
  let scale = 0;
  for (const x of ref) scale = Math.max(scale, Math.abs(x));
  for (let i = 0; i < ref.length; i++) {
    const tol = RTOL * Math.abs(ref[i]) + ATOL * scale + 1e-30;
    if (!(Math.abs(ours[i] - ref[i]) <= tol)) assert.unreachable(`${label}[${i}]: ours ${ours[i]} vs float64 reference ${ref[i]} (tolerance ${tol.toExponential(2)})`);
  }
}

function conformance(options, { steps = 8, seed = 1 } = {}) {
  const { noDecayNames, ...opts } = options;
  const ours = runOurs(options, steps, seed);
  const ref = new RefMuon(opts);
  const refVars = VARS.map(({ shape, name }, k) => ({ shape, name, values: Float64Array.from(ours.init[k]), noDecay: Boolean(noDecayNames) && name.includes('dense_1') }));
  for (const gs of ours.grads) ref.apply(gs.map((g, k) => [g, refVars[k]]));
  const label = `Muon ${JSON.stringify(options)}`;
  assert.is(ours.opt.iterations, ref.iterations, `${label}: iterations`);
  refVars.forEach((rv, k) => {
    close(`${label} ${rv.name}`, ours.vars[k].value, rv.values);
    const slots = ref.state(rv).slots;
    const names = Object.keys(slots);
    assert.equal(names, usesAdamW({ ...MUON_DEFAULTS, ...opts }, rv.name, rv.shape) ? ['momentum', 'velocity'] : ['momentum']);
    for (const name of names) close(`${label} ${rv.name}/${name}`, ours.opt.getSlot(ours.vars[k], name).value, slots[name]);
  });
  setSimdEnabled(false);
  let scalar;
  try {
    scalar = runOurs(options, steps, seed);
  } finally {
    setSimdEnabled(true);
  }
  assertSameBits(label, ours, scalar);
  for (const x of [ours.opt, scalar.opt, ...ours.vars, ...scalar.vars]) x.dispose();
}

test('conformance: defaults, every base option combination (clipping, decay, EMA, accumulation, loss scale), several steps, sparse and null gradients, SIMD = scalar', () => {
  // learningRate 0.05 makes the Muon update (~lr * 0.2 * sqrt(n) * |X|) large against the weights,
  // so the tolerance tests it. With skipNonFinite, two poisoned calls are skipped on the way.
  for (const base of baseCombos()) conformance({ learningRate: 0.05, ...base });
});

test('conformance: every Muon option', () => {
  const list = [
    {},
    { adamBeta1: 0.5, adamBeta2: 0.9 },
    { adamWeightDecay: 0.2, weightDecay: 0.05 },
    { adamWeightDecay: null },
    { weightDecay: null },
    { epsilon: 1e-3 },
    { excludeLayers: ['^output_', 'square'] },
    { excludeLayers: ['dense'] },
    { excludeEmbeddings: false },
    { muonA: 2, muonB: -1.5, muonC: 0.5 },
    { adamLrRatio: 0.1 },
    { momentum: 0.5 },
    { momentum: 0 },
    { nsSteps: 0 },
    { nsSteps: 2 },
    { nsSteps: 8 },
    { nesterov: false },
    { rmsRate: null },
    { rmsRate: 1 },
    { noDecayNames: true },
    { learningRate: (step) => 0.05 / (1 + step) },
    { weightDecay: (step) => 0.01 * step },
  ];
  for (const o of list) {
    conformance({ learningRate: 0.05, ...o });
    conformance({ learningRate: 0.05, globalClipnorm: 1, gradientAccumulationSteps: 2, useEma: true, ...o });
  }
});

// ---------------------------------------------------------------- Keras itself

test('Keras 3\'s own Muon (test/fixtures/muon-keras.json, JAX backend, float32): weights and slots after 4 steps, three configurations', () => {
  const fx = JSON.parse(readFileSync(new URL('./fixtures/muon-keras.json', import.meta.url), 'utf8'));
  const camel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()).replace(/Beta(\d)/, 'Beta$1');
  for (const run of fx.runs) {
    const options = Object.fromEntries(Object.entries(run.config).map(([k, v]) => [camel(k), v]));
    const vars = fx.shapes.map(({ name, shape }, k) => new Variable(Float32Array.from(fx.init[k]), { shape, name }));
    const opt = new Muon(options);
    for (const step of fx.grads) opt.applyGradients(step.map((g, k) => [Float32Array.from(g), vars[k]]));
    const label = `Keras ${fx.keras} ${JSON.stringify(run.config)}`;
    assert.is(opt.iterations, run.iterations, `${label}: iterations`);
    // Keras computes in float32 with XLA's summation order and (c*A)·A grouping: the same tolerance
    // as against the float64 reference (the float32 rounding of both sides is far below it).
    vars.forEach((v) => close(`${label} ${v.name}`, v.value, run.weights[v.name]));
    const ours = opt.getState().variables;
    assert.equal(Object.keys(ours).sort(), Object.keys(run.slots).sort(), `${label}: the same slots`);
    for (const [name, values] of Object.entries(run.slots)) close(`${label} ${name}`, ours[name].values, values);
    for (const x of [opt, ...vars]) x.dispose();
  }
});

// ---------------------------------------------------------------- the AdamW path is AdamW

test('the AdamW path equals AdamW bit for bit (adamLrRatio 1, adamWeightDecay as AdamW\'s weightDecay)', () => {
  const r = rng(21);
  for (const shape of [[1], [5], [17], [2, 3, 4]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const init = r.f32(n);
    const a = new Variable(init, { shape, name: 'x' });
    const b = new Variable(init, { shape, name: 'x' });
    const muon = new Muon({ learningRate: 0.01, adamWeightDecay: 0.1, adamBeta1: 0.8, adamBeta2: 0.99, epsilon: 1e-6 });
    const adamw = new AdamW({ learningRate: 0.01, weightDecay: 0.1, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 });
    for (let s = 0; s < 5; s++) {
      const g = r.f32(n);
      muon.applyGradients([[g, a]]);
      adamw.applyGradients([[g, b]]);
    }
    assert.equal(bits(a.value), bits(b.value), `${shape}: weights`);
    assert.equal(bits(muon.getSlot(a, 'momentum').value), bits(adamw.getSlot(b, 'm').value), `${shape}: first moment`);
    assert.equal(bits(muon.getSlot(a, 'velocity').value), bits(adamw.getSlot(b, 'v').value), `${shape}: second moment`);
    for (const x of [a, b, muon, adamw]) x.dispose();
  }
});

// ---------------------------------------------------------------- routing, options, state

test('routing: rank, excludeEmbeddings (any case), excludeLayers (searched regular expressions); slots follow it', () => {
  const opt = new Muon({ excludeLayers: ['^head/', 'out.*dense'] });
  const v = (shape, name) => Variable.zeros(shape, { name });
  const cases = [
    [v([3], 'b'), true], [v([2, 2, 2], 'conv'), true], [v([3, 4], 'dense/kernel'), false],
    [v([3, 4], 'Word_EMBEDDING/table'), true], [v([3, 4], 'head/kernel'), true], [v([3, 4], 'my_head/kernel'), false],
    [v([3, 4], 'the_output_dense'), true], [v([], 'scalar'), true],
  ];
  for (const [x, adam] of cases) assert.is(opt.usesAdamW(x), adam, x.name);
  opt.prepare(cases.map(([x]) => x));
  const state = opt.getState();
  for (const [x, adam] of cases) {
    assert.ok(`${x.name}/momentum` in state.variables, x.name);
    assert.is(`${x.name}/velocity` in state.variables, adam, x.name);
  }
  assert.is(new Muon({ excludeEmbeddings: false }).usesAdamW(cases[3][0]), false);
  opt.dispose();
  for (const [x] of cases) x.dispose();
});

test('options: Keras defaults, getConfig/fromConfig round trip, weightDecay getter', () => {
  const o = new Muon();
  const c = o.getConfig();
  for (const [k, v] of Object.entries(MUON_DEFAULTS)) assert.equal(c[k], v, k);
  assert.is(o.weightDecay, 0.004);
  assert.equal(Muon.fromConfig(c).getConfig(), c);
  const custom = new Muon({ excludeLayers: ['a', 'b.*'], rmsRate: null, adamWeightDecay: null, weightDecay: null, nsSteps: 3, nesterov: false });
  assert.equal(Muon.fromConfig(custom.getConfig()).getConfig(), custom.getConfig());
  assert.is(custom.weightDecay, null);
  // the options object is read once: a later change to the caller's array does not reach the optimizer
  const layers = ['x'];
  const held = new Muon({ excludeLayers: layers });
  layers.push('dense');
  assert.equal(held.excludeLayers, ['x']);
  assert.throws(() => new Muon({ excludeLayers: ['('] }), /Muon: excludeLayers\[0\] is not a valid regular expression/);
  assert.throws(() => new Muon({ ns_steps: 2 }), /did you mean nsSteps\?/);
});

test('state: save after 3 steps, load into a fresh optimizer (deferred and with variables), 3 more == 6 steps, bit for bit; fromCheckpoint', () => {
  const make = () => VARS.map(({ shape, name }, k) => new Variable(rng(k + 1).f32(shape.reduce((a, b) => a * b, 1)), { shape, name }));
  const grads = Array.from({ length: 6 }, (_, s) => gradients(rng(100 + s), s));
  const step = (opt, vars, gs) => opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
  const opts = { learningRate: 0.05, excludeLayers: ['output'] };
  const full = new Muon(opts);
  const fv = make();
  for (const gs of grads) step(full, fv, gs);
  for (const mode of ['deferred', 'variables', 'fromCheckpoint']) {
    const first = new Muon(opts);
    const vars = make();
    for (const gs of grads.slice(0, 3)) step(first, vars, gs);
    const bytes = first.saveState();
    let second;
    if (mode === 'fromCheckpoint') second = Optimizer.fromCheckpoint(bytes, vars);
    else {
      second = new Muon(opts);
      second.loadState(bytes, mode === 'variables' ? vars : undefined);
    }
    for (const gs of grads.slice(3)) step(second, vars, gs);
    vars.forEach((v, k) => assert.equal(bits(v.value), bits(fv[k].value), `${mode} ${v.name}`));
    const a = full.getState();
    const b = second.getState();
    assert.equal(Object.keys(b.variables).sort(), Object.keys(a.variables).sort());
    for (const name of Object.keys(a.variables)) assert.equal(bits(b.variables[name].values), bits(a.variables[name].values), `${mode} ${name}`);
    for (const x of [first, second, ...vars]) x.dispose();
  }
  for (const x of [full, ...fv]) x.dispose();
});

test('sparse gradients are densified: the same bits as the dense gradient with summed rows', () => {
  const shape = [9, 7];
  const run = (sparse) => {
    const w = new Variable(rng(5).f32(63), { shape, name: 'table' });
    const opt = new Muon({ learningRate: 0.05 });
    for (let s = 0; s < 3; s++) {
      const values = rng(50 + s).f32(3 * 7);
      const indices = Int32Array.from([4, 1, 4]);
      let g = { indices, values };
      if (!sparse) {
        g = new Float32Array(63);
        for (let r = 0; r < 3; r++) for (let j = 0; j < 7; j++) g[indices[r] * 7 + j] += values[r * 7 + j];
      }
      opt.applyGradients([[g, w]]);
    }
    const out = [bits(w.value), bits(opt.getSlot(w, 'momentum').value)];
    opt.dispose();
    w.dispose();
    return out;
  };
  assert.equal(run(true), run(false));
});

test('excludeFromWeightDecay (by variable and by name) applies to both paths; the decay uses the full learning rate', () => {
  // A zero gradient leaves the update at 0 on both paths (Muon: X = 0 / 1e-7 = 0), so only the decay moves w.
  const vars = () => [new Variable(new Float32Array(12).fill(1), { shape: [4, 3], name: 'dense/kernel' }), new Variable(new Float32Array(3).fill(1), { name: 'dense/bias' }), new Variable(new Float32Array(6).fill(1), { shape: [2, 3], name: 'skip/kernel' })];
  const opt = new Muon({ learningRate: 0.5, weightDecay: 0.2, adamWeightDecay: 0.4, adamLrRatio: 0.1 });
  const [k, b, x] = vars();
  opt.excludeFromWeightDecay({ variables: [x] });
  opt.applyGradients([[new Float32Array(12), k], [new Float32Array(3), b], [new Float32Array(6), x]]);
  assert.ok(k.value.every((v) => v === Math.fround(1 - Math.fround(Math.fround(0.2) * 0.5))), `Muon path: ${k.value}`);
  assert.ok(b.value.every((v) => v === Math.fround(1 - Math.fround(Math.fround(0.4) * 0.5))), `AdamW path: ${b.value}`);
  assert.ok(x.value.every((v) => v === 1), 'excluded by identity');
  opt.excludeFromWeightDecay({ names: ['dense/b'] });
  opt.applyGradients([[new Float32Array(12), k], [new Float32Array(3), b], [new Float32Array(6), x]]);
  assert.ok(b.value.every((v) => v === Math.fround(1 - Math.fround(Math.fround(0.4) * 0.5))), 'excluded by name from now on');
  assert.ok(x.value.every((v) => v < 1), 'a later call replaces the earlier exclusions (as Keras)');
  for (const v of [opt, k, b, x]) v.dispose();
});

test('inside wrappers: Lookahead(Muon) and LossScaleOptimizer(Muon) build the scratch in their step and train', () => {
  for (const make of [() => new Lookahead(new Muon({ learningRate: 0.05 })), () => new LossScaleOptimizer(new Muon({ learningRate: 0.05 }))]) {
    const w = new Variable(rng(8).f32(35), { shape: [7, 5], name: 'dense/kernel' });
    const before = w.value.slice();
    const opt = make();
    for (let s = 0; s < 3; s++) opt.applyGradients([[rng(9 + s).f32(35), w]]);
    assert.ok(w.value.some((v, i) => v !== before[i]) && w.value.every(Number.isFinite), opt.getClassName());
    opt.dispose();
    w.dispose();
  }
});

test('MultiOptimizer: Muon on the kernels (AdamW elsewhere) is Muon alone, bit for bit; the state round-trips', () => {
  const grads = Array.from({ length: 4 }, (_, s) => [rng(70 + s).f32(63), rng(80 + s).f32(7)]);
  const make = () => [new Variable(rng(3).f32(63), { shape: [9, 7], name: 'dense/kernel' }), new Variable(rng(4).f32(7), { name: 'dense/bias' })];
  const [k, b] = make();
  const multi = new MultiOptimizer(new OptimizerMap(new AdamW(), { '.*kernel': new Muon({ learningRate: 0.05 }) }));
  for (const [gk, gb] of grads) multi.applyGradients([[gk, k], [gb, b]]);
  const [k2] = make();
  const alone = new Muon({ learningRate: 0.05 });
  for (const [gk] of grads) alone.applyGradients([[gk, k2]]);
  assert.equal(bits(k.value), bits(k2.value));
  const [k3, b3] = make();
  const again = new MultiOptimizer(new OptimizerMap(new AdamW(), { '.*kernel': new Muon({ learningRate: 0.05 }) }));
  for (const [gk, gb] of grads.slice(0, 2)) again.applyGradients([[gk, k3], [gb, b3]]);
  const restored = new MultiOptimizer(new OptimizerMap(new AdamW(), { '.*kernel': new Muon({ learningRate: 0.05 }) }));
  restored.loadState(again.saveState(), [k3, b3]);
  for (const [gk, gb] of grads.slice(2)) restored.applyGradients([[gk, k3], [gb, b3]]);
  assert.equal(bits(k3.value), bits(k.value));
  assert.equal(bits(b3.value), bits(b.value));
  for (const x of [multi, alone, again, restored, k, b, k2, k3, b3]) x.dispose();
});

// ---------------------------------------------------------------- memory

function smallHeap(pages) {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: pages });
  return new Arena(memory, instantiateKernels(kernelModule(), memory));
}

test('scratch: allocated once when variables are built (grown for a larger one), never per step; an allocation that fails changes nothing', () => {
  const heap = defaultHeap();
  const a = Variable.zeros([32, 16], { name: 'a' });
  const opt = new Muon();
  const g = new Float32Array(512).fill(0.1);
  opt.applyGradients([[g, a]]);
  const live = heap.liveBytes;
  for (let s = 0; s < 5; s++) opt.applyGradients([[g, a]]);
  assert.is(heap.liveBytes, live, 'steady steps allocate nothing in the arena');
  const b = Variable.zeros([64, 64], { name: 'b' });
  opt.applyGradients([[g, a], [new Float32Array(4096).fill(0.1), b]]);
  const grown = heap.liveBytes;
  for (let s = 0; s < 3; s++) opt.applyGradients([[g, a], [new Float32Array(4096).fill(0.1), b]]);
  assert.is(heap.liveBytes, grown, 'after growing once');
  opt.dispose();
  a.dispose();
  b.dispose();

  // One 64 KiB page: the weights and momentum fit, the scratch (two 64x64 copies, ...) does not.
  const small = smallHeap(1);
  const w = new Variable(new Float32Array(4096).fill(1), { shape: [64, 64], name: 'w' }, small);
  const before = small.liveBytes;
  const o2 = new Muon();
  assert.throws(() => o2.applyGradients([[new Float32Array(4096).fill(0.5), w]]), /out of wasm memory/);
  assert.is(small.liveBytes, before, 'arena live bytes');
  assert.is(o2.iterations, 0);
  assert.equal(Object.keys(o2.getState().variables), [], 'no slot built');
  assert.ok(w.value.every((x) => x === 1), 'weights untouched');
  o2.dispose();
  w.dispose();
});

test('a steady-state step allocates nothing on the JS heap (a fresh process, 1 MiB young generation, no collection)', () => {
  const lib = new URL('../build/index.js', import.meta.url).href;
  const src = `
    import { ready, Variable, Muon } from '${lib}';
    import { PerformanceObserver } from 'node:perf_hooks';
    await ready();
    const k = Variable.zeros([16, 8], { name: 'dense/kernel' });
    const b = Variable.zeros([8], { name: 'dense/bias' });
    const gk = new Variable(new Float32Array(128).fill(0.01), { name: 'gk' });
    const gb = new Variable(new Float32Array(8).fill(0.01), { name: 'gb' });
    const opt = new Muon({ clipnorm: 1 });
    opt.prepare([k, b]);
    const pairs = [[gk.value, k], [gb.value, b]];
    for (let i = 0; i < 20000; i++) opt.applyGradients(pairs);
    let collections = 0;
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 10));
    const obs = new PerformanceObserver((list) => { collections += list.getEntries().length; });
    obs.observe({ entryTypes: ['gc'] });
    for (let i = 0; i < 100000; i++) opt.applyGradients(pairs);
    await new Promise((r) => setTimeout(r, 10));
    obs.disconnect();
    console.log(JSON.stringify({ collections }));
  `;
  const out = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', src], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) });
  assert.is(out.status, 0, out.stderr);
  assert.equal(JSON.parse(out.stdout.trim().split('\n').pop()), { collections: 0 });
});

// ---------------------------------------------------------------- a small dense model

test('new Muon() trains a small dense model (2-D kernels on the Muon path, 1-D biases on the AdamW path)', () => {
  // y = sin(x1) + x2*x3 on 64 points, an MLP 3 -> 16 -> 1 with tanh; manual backprop.
  const r = rng(31);
  const N = 64;
  const X = r.f32(N * 3);
  const Y = Float32Array.from({ length: N }, (_, i) => Math.sin(X[i * 3]) + X[i * 3 + 1] * X[i * 3 + 2]);
  const w1 = new Variable(r.f32(3 * 16, 0.5), { shape: [3, 16], name: 'dense/kernel' });
  const b1 = Variable.zeros([16], { name: 'dense/bias' });
  const w2 = new Variable(r.f32(16, 0.25), { shape: [16, 1], name: 'dense_1/kernel' });
  const b2 = Variable.zeros([1], { name: 'dense_1/bias' });
  const opt = new Muon({ learningRate: 0.02 });
  const lossAndGrads = () => {
    const g = [new Float32Array(48), new Float32Array(16), new Float32Array(16), new Float32Array(1)];
    let loss = 0;
    for (let i = 0; i < N; i++) {
      const h = new Float64Array(16);
      for (let j = 0; j < 16; j++) {
        let s = b1.value[j];
        for (let k = 0; k < 3; k++) s += X[i * 3 + k] * w1.value[k * 16 + j];
        h[j] = Math.tanh(s);
      }
      let y = b2.value[0];
      for (let j = 0; j < 16; j++) y += h[j] * w2.value[j];
      const e = y - Y[i];
      loss += (e * e) / N;
      const dy = (2 * e) / N;
      g[3][0] += dy;
      for (let j = 0; j < 16; j++) {
        g[2][j] += dy * h[j];
        const dh = dy * w2.value[j] * (1 - h[j] * h[j]);
        g[1][j] += dh;
        for (let k = 0; k < 3; k++) g[0][k * 16 + j] += dh * X[i * 3 + k];
      }
    }
    return { loss, g };
  };
  const first = lossAndGrads().loss;
  let last = first;
  for (let s = 0; s < 300; s++) {
    const { loss, g } = lossAndGrads();
    last = loss;
    opt.applyGradients([[g[0], w1], [g[1], b1], [g[2], w2], [g[3], b2]]);
  }
  assert.ok(last < first / 4, `loss ${first} -> ${last}`);
  assert.equal([w1, b1, w2, b2].map((v) => opt.usesAdamW(v)), [false, true, false, true]);
  for (const x of [opt, w1, b1, w2, b2]) x.dispose();
});

test('wasm-optim/tfjs: optim.muon trains a tfjs-layers model with model.fit on the wasm backend (kernels on the Muon path, biases on AdamW)', async () => {
  const { tf, tfl } = await import('./helpers/tfjs.mjs');
  const optim = await import('../build/tfjs/index.js');
  await tf.setBackend('wasm');
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [4], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const opt = optim.muon({ learningRate: 0.02 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const xs = tf.tensor2d(Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.37)), [16, 4]);
  const ys = tf.tensor2d(Array.from({ length: 16 }, (_, i) => Math.cos(i * 0.5)), [16, 1]);
  const h = await model.fit(xs, ys, { epochs: 20, batchSize: 4, shuffle: false, verbose: 0 });
  const loss = h.history.loss;
  assert.ok(loss[loss.length - 1] < 0.9 * loss[0], `loss ${loss[0]} -> ${loss[loss.length - 1]}`);
  const slots = Object.keys(opt.core.getState().variables);
  assert.is(slots.filter((n) => n.endsWith('/velocity')).length, 2, `the two biases take the AdamW path: ${slots}`);
  assert.is(slots.filter((n) => n.endsWith('/momentum')).length, 4, 'every variable has a momentum');
  tf.dispose([xs, ys]);
  model.dispose();
  opt.dispose();
  await tf.setBackend('cpu');
});

test.run();
