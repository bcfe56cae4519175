// The optax optimizers (Adan, Adopt, AdEMAMix, Prodigy) against their float64 references: the full
// cross of their own options with the 128 base combinations (SIMD == scalar), optax's defaults,
// option-specific behaviour (first steps, schedules, weight decay in optax's place and its
// exclusion), sparse gradients, configs, bit-exact state round-trips and zero allocation per step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as lib from '../build/index.js';
import { baseCombos, combos, conformance, conformanceAll } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';
import { repoFile } from './helpers/load-ts.mjs';
import { RefOptimizer } from './reference/base.mjs';
import { adan } from './reference/adan.mjs';
import { adopt } from './reference/adopt.mjs';
import { ademamix } from './reference/ademamix.mjs';
import { prodigy } from './reference/prodigy.mjs';

const { ready, deserialize, setSimdEnabled, Variable } = lib;
await ready();

const BASES = baseCombos();
const full = (own) => own.flatMap((o) => BASES.map((b) => ({ ...o, ...b })));

// Every own option with two values (learning rate fixed), crossed with all 128 base combinations
// (weightDecay among them: 0.05 or none, applied in optax's place).
const CASES = [
  ['Adan', 'adan', full(combos({ beta1: [0.98, 0.9], beta2: [0.92, 0.5], beta3: [0.99, 0.9], epsilon: [1e-8, 1e-3], epsRoot: [1e-8, 0], learningRate: [0.01] }))],
  // Without clipping, the first real step divides by |g_0|: where g_0 is a near-cancelling sum (the
  // mean of accumulated gradients), its float32 rounding is amplified past any fixed tolerance, in
  // optax as here. That half of the cross takes epsilons that bound the amplification.
  ['Adopt', 'adopt', full([
    ...combos({ beta1: [0.9, 0.5], beta2: [0.9999, 0.9], epsilon: [1e-6, 1e-3], nesterov: [false, true], useClipping: [true], learningRate: [0.01] }),
    ...combos({ beta1: [0.9, 0.5], beta2: [0.9999, 0.9], epsilon: [1e-2, 0.05], nesterov: [false, true], useClipping: [false], learningRate: [0.01] }),
  ])],
  ['AdEMAMix', 'ademamix', full(combos({ beta1: [0.9, 0.5], beta2: [0.999, 0.9], beta3: [0.9999, 0.99], alpha: [5, 0.5], epsilon: [1e-8, 1e-3], epsRoot: [0, 1e-8], learningRate: [0.01] }))],
  ['Prodigy', 'prodigy', full(combos({
    beta1: [0.9, 0.5], beta2: [0.999, 0.9], beta3: [null, 0.9], epsilon: [1e-8, 1e-3], estimLr0: [1e-6, 1e-2], estimLrCoef: [1, 0.5],
    safeguardWarmup: [false, true], learningRate: [1],
  }))],
];
const SPECS = { adan, adopt, ademamix, prodigy };

/** optax's defaults (learning rate: optax has none but Prodigy's 1.0; 0.001 here). */
const DEFAULTS = {
  Adan: { learningRate: 0.001, beta1: 0.98, beta2: 0.92, beta3: 0.99, epsilon: 1e-8, epsRoot: 1e-8, weightDecay: 0 },
  Adopt: { learningRate: 0.001, beta1: 0.9, beta2: 0.9999, epsilon: 1e-6, nesterov: false, useClipping: true, clipValueFn: null, weightDecay: null },
  AdEMAMix: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, beta3: 0.9999, alpha: 5, epsilon: 1e-8, epsRoot: 0, weightDecay: 0 },
  Prodigy: { learningRate: 1, beta1: 0.9, beta2: 0.999, beta3: null, epsilon: 1e-8, estimLr0: 1e-6, estimLrCoef: 1, weightDecay: 0, safeguardWarmup: false },
};

/** A non-default value of every own option (configs must carry each). */
const OTHER = {
  Adan: { beta1: 0.9, beta2: 0.8, beta3: 0.95, epsilon: 1e-6, epsRoot: 0, weightDecay: 0.02 },
  Adopt: { beta1: 0.8, beta2: 0.99, epsilon: 1e-5, nesterov: true, useClipping: false },
  AdEMAMix: { beta1: 0.8, beta2: 0.99, beta3: 0.999, alpha: 8, epsilon: 1e-6, epsRoot: 1e-9, weightDecay: 0.01 },
  Prodigy: { beta1: 0.8, beta2: 0.99, beta3: 0.95, epsilon: 1e-6, estimLr0: 1e-4, estimLrCoef: 0.5, weightDecay: 0.01, safeguardWarmup: true },
};

for (const [className, ref, runs] of CASES) {
  test(`${className} matches the float64 reference for every own option combination x 128 base combinations (SIMD == scalar)`, async () => {
    await conformanceAll(className, [new URL(`./reference/${ref}.mjs`, import.meta.url).href, ref], runs);
  });
}

test('defaults are optax\'s, and the default optimizer matches the reference', () => {
  for (const [className, ref] of CASES) {
    const C = lib[className];
    conformance(C, SPECS[ref], {}, { steps: 10, seed: 7 });
    const config = new C().getConfig();
    for (const [k, v] of Object.entries(DEFAULTS[className])) assert.is(config[k], v, `${className}.${k}`);
    assert.is(config.name, className.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()); // 'ad_emamix', as the base class names every optimizer
  }
});

test('config: every option round-trips through JSON and the registry', () => {
  for (const [className] of CASES) {
    const C = lib[className];
    const config = new C({ learningRate: 0.02, name: 'x', ...OTHER[className] }).getConfig();
    for (const [k, v] of Object.entries(OTHER[className])) assert.is(config[k], v, `${className}.${k}`);
    const again = deserialize({ className, config: JSON.parse(JSON.stringify(config)) });
    assert.instance(again, C);
    assert.equal(again.getConfig(), config);
  }
});

/** Trains `steps` steps of seeded gradients on two variables; returns weights and every state variable. */
function train(C, options, { steps = 9, seed = 3, sparse = false, exclude = false } = {}) {
  const r = rng(seed);
  const init = [r.f32(17), r.f32(5 * 7)];
  const vars = init.map((x, i) => new Variable(x, { name: `w${i}`, shape: i ? [5, 7] : [17] }));
  const opt = new C(options);
  if (exclude) opt.excludeFromWeightDecay({ variables: [vars[1]] });
  const grads = [];
  for (let s = 0; s < steps; s++) {
    const g1 = sparse && s % 2 ? { indices: Int32Array.from([4, 0, 4]), values: r.f32(3 * 7, 0.3) } : r.f32(35, 0.3);
    const gs = [r.f32(17, 0.3), g1];
    grads.push(gs);
    opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
  }
  const out = { weights: vars.map((v) => v.value.slice()), state: opt.getState(), init, grads };
  opt.dispose();
  vars.forEach((v) => v.dispose());
  return out;
}

function sameBits(label, a, b) {
  assert.is(a.length, b.length, `${label}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.unreachable(`${label}[${i}]: ${a[i]} != ${b[i]}`);
}

test('weight decay is optax\'s (inside the update, u + wd*w before the learning rate) and excludeFromWeightDecay is its mask', () => {
  for (const [className, ref] of CASES) {
    if (DEFAULTS[className].weightDecay !== 0) continue; // Adopt: the base class's decay (optax's adopt has none)
    if (className === 'Prodigy') continue; // its own decay rule and d estimate: see the Prodigy tests
    const C = lib[className];
    const spec = SPECS[ref];
    const options = { learningRate: 0.05, weightDecay: 0.3 };
    for (const exclude of [false, true]) {
      const ours = train(C, options, { exclude });
      const refOpt = new RefOptimizer(spec, options);
      const refVars = ours.init.map((x, i) => ({ name: `w${i}`, shape: i ? [5, 7] : [17], values: Float64Array.from(x), noDecay: exclude && i === 1 }));
      for (const gs of ours.grads) refOpt.apply(gs.map((g, k) => [g, refVars[k]]));
      refVars.forEach((rv, k) => {
        for (let i = 0; i < rv.values.length; i++) {
          assert.ok(Math.abs(ours.weights[k][i] - rv.values[i]) <= 2e-5 * Math.abs(rv.values[i]) + 1e-6, `${className} exclude=${exclude} w${k}[${i}]: ${ours.weights[k][i]} vs ${rv.values[i]}`);
        }
      });
    }
    // The excluded variable follows the undecayed trajectory bit for bit.
    const excluded = train(C, options, { exclude: true });
    const plain = train(C, { learningRate: 0.05 });
    sameBits(`${className} excluded w1`, excluded.weights[1], plain.weights[1]);
    // A schedule is applied like the constant it returns (same float32 value).
    const scheduled = train(C, { learningRate: 0.05, weightDecay: () => 0.3 });
    sameBits(`${className} scheduled weightDecay`, scheduled.weights[0], train(C, options).weights[0]);
    assert.is(new C({ weightDecay: 0.3 }).weightDecay, 0.3);
    assert.is(new C().weightDecaySchedule, null);
  }
});

test('Adopt: the first update only records g^2 (no step, as optax\'s b1 = 1, b2 = 0, clip 0); later ones divide by the previous sqrt(nu)', () => {
  for (const useClipping of [true, false]) {
    const w = new Variable([0.5, -0.25, 2], { name: 'w' });
    const opt = new lib.Adopt({ learningRate: 0.1, useClipping });
    const g = new Float32Array([0.2, -0.4, 0]);
    opt.applyGradients([[g, w]]);
    assert.equal(Array.from(w.value), [0.5, -0.25, 2], `useClipping ${useClipping}: weights after the first update`);
    assert.equal(Array.from(opt.getSlot(w, 'mu').value), [0, 0, 0]);
    assert.equal(Array.from(opt.getSlot(w, 'nu').value), Array.from(g, (x) => Math.fround(x * x)));
    // Second update: x = g / max(sqrt(nu_prev), eps), clipped to 1^0.25 = 1 with clipping.
    opt.applyGradients([[new Float32Array([0.1, 0.8, 0]), w]]);
    const x0 = Math.fround(Math.fround(0.1) / Math.fround(Math.sqrt(Math.fround(Math.fround(0.2) ** 2))));
    const x1 = useClipping ? 1 : Math.fround(Math.fround(0.8) / Math.fround(Math.sqrt(Math.fround(Math.fround(0.4) ** 2))));
    const mu = opt.getSlot(w, 'mu').value;
    assert.ok(Math.abs(mu[0] - 0.1 * x0) < 1e-7 && Math.abs(mu[1] - 0.1 * x1) < 1e-7, `mu ${mu[0]}, ${mu[1]}`);
    opt.dispose();
    w.dispose();
  }
});

test('Adopt: a NaN gradient gives a NaN weight (not clipped away), on the SIMD and the scalar path', () => {
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      const w = new Variable([1, 2, 3, 4, 5], { name: 'w' });
      const opt = new lib.Adopt({ learningRate: 0.1 });
      opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5]), w]]);
      opt.applyGradients([[new Float32Array([NaN, 0.2, 0.3, 0.4, NaN]), w]]);
      const v = Array.from(w.value);
      assert.ok(Number.isNaN(v[0]) && Number.isNaN(v[4]), `simd=${simd}: ${v}`);
      assert.ok(v.slice(1, 4).every(Number.isFinite), `simd=${simd}: ${v}`);
      opt.dispose();
      w.dispose();
    } finally {
      setSimdEnabled(true);
    }
  }
});

test('Adopt: clipValueFn (a function or a schedule of the update count, under gradient accumulation too) against the reference; configs', () => {
  const fn = (count) => 0.05 + 0.1 * count;
  for (const base of [{}, { gradientAccumulationSteps: 3 }, { useEma: true, clipnorm: 0.5 }]) {
    for (const nesterov of [false, true]) conformance(lib.Adopt, adopt, { learningRate: 0.01, clipValueFn: fn, nesterov, ...base });
  }
  const sched = new lib.LinearSchedule({ initialValue: 0.05, endValue: 2, transitionSteps: 8 });
  const ref = (count) => sched.call(count);
  for (const base of [{}, { gradientAccumulationSteps: 2 }]) {
    const a = train(lib.Adopt, { learningRate: 0.01, clipValueFn: sched, ...base });
    const b = train(lib.Adopt, { learningRate: 0.01, clipValueFn: ref, ...base });
    sameBits('schedule == function', a.weights[1], b.weights[1]);
  }
  const config = new lib.Adopt({ clipValueFn: sched }).getConfig();
  assert.equal(deserialize({ className: 'Adopt', config: JSON.parse(JSON.stringify(config)) }).getConfig(), config);
  assert.throws(() => new lib.Adopt({ clipValueFn: fn }).getConfig(), /a function clipValueFn cannot be serialized/);
  // A value the function returns at some step is checked there (before anything is written).
  const w = new Variable([1, 2], { name: 'w' });
  const opt = new lib.Adopt({ clipValueFn: (c) => (c === 1 ? -1 : 1) });
  opt.applyGradients([[new Float32Array([0.1, 0.2]), w]]);
  const before = Array.from(w.value);
  assert.throws(() => opt.applyGradients([[new Float32Array([0.1, 0.2]), w]]), /clipValueFn schedule returned -1/);
  assert.equal(Array.from(w.value), before);
  assert.is(opt.iterations, 1);
  opt.dispose();
  w.dispose();
});

// The paper's schedulers (Pagliardini et al., appendix), written as functions of the update count.
const beta3Warmup = (start, end, warmup) => (step) => {
  if (step >= warmup) return end;
  const f = (b) => Math.log(0.5) / Math.log(b) - 1;
  const a = step / warmup;
  return 0.5 ** (1 / ((1 - a) * f(start) + a * f(end) + 1));
};

test('AdEMAMix: beta3 and alpha follow schedules of the update count (the paper\'s warmups), under gradient accumulation too', () => {
  const alpha = new lib.LinearSchedule({ initialValue: 0, endValue: 5, transitionSteps: 6 });
  const beta3 = beta3Warmup(0.9, 0.9999, 6);
  for (const base of [{}, { gradientAccumulationSteps: 3 }, { weightDecay: 0.05, useEma: true }, { skipNonFinite: true, globalClipnorm: 1 }]) {
    conformance(lib.AdEMAMix, ademamix, { learningRate: 0.01, alpha, beta3, ...base });
  }
  const opt = new lib.AdEMAMix({ alpha, beta3 });
  assert.is(opt.alphaSchedule, alpha);
  assert.is(opt.beta3Schedule, beta3);
  assert.is(opt.alpha, 0);
  assert.is(opt.beta3, Math.fround(0.9));
  const config = new lib.AdEMAMix({ alpha, gradientAccumulationSteps: 2 }).getConfig();
  assert.equal(config.alpha, { className: 'LinearSchedule', config: alpha.getConfig() });
  assert.equal(deserialize({ className: 'AdEMAMix', config: JSON.parse(JSON.stringify(config)) }).getConfig(), config);
  assert.throws(() => opt.getConfig(), /a function beta3 cannot be serialized/);
  opt.dispose();
});

/**
 * Prodigy on a quadratic (gradient w - target) over three variables, next to its reference fed the
 * same gradients: d grows by two orders of magnitude. `order` permutes the pairs after the first
 * update; `skip` gives variable 1 a null gradient every third update.
 */
function prodigyQuadratic(options, { steps = 30, order = [0, 1, 2], skip = false, exclude = false } = {}) {
  const r = rng(9);
  const sizes = [1023, 17, 5];
  const init = sizes.map((n) => r.f32(n));
  const target = sizes.map((n) => r.f32(n, 3));
  const vars = sizes.map((n, k) => new Variable(init[k], { name: `q${k}` }));
  const refVars = sizes.map((n, k) => ({ shape: [n], name: `q${k}`, values: Float64Array.from(init[k]), noDecay: exclude && k === 2 }));
  const opt = new lib.Prodigy(options);
  if (exclude) opt.excludeFromWeightDecay({ names: ['q2'] });
  const ref = new RefOptimizer(prodigy, options);
  const ds = [];
  for (let s = 0; s < steps; s++) {
    const gs = vars.map((v, k) => (skip && k === 1 && s % 3 === 2 ? null : Float32Array.from(v.value, (x, i) => x - target[k][i])));
    const ks = s === 0 ? [0, 1, 2] : order;
    opt.applyGradients(ks.map((k) => [gs[k], vars[k]]));
    ref.apply(ks.map((k) => [gs[k], refVars[k]]));
    ds.push(opt.estimatedLearningRate);
  }
  const out = { weights: vars.map((v) => v.value.slice()), state: opt.getState(), ds, refD: ref.globals.d, refVars, ref };
  opt.dispose();
  vars.forEach((v) => v.dispose());
  return out;
}

test('Prodigy: d grows on a quadratic as the reference\'s does (whole-model sums; a skipped variable still counts in sum|s|; optax\'s decay and its mask)', () => {
  for (const options of [
    { estimLr0: 1e-2 },
    { estimLr0: 1e-2, safeguardWarmup: true, weightDecay: 0.1 },
    { estimLr0: 1e-2, beta3: 0.9, estimLrCoef: 0.5, learningRate: 0.5 },
  ]) {
    for (const [skip, exclude] of [[false, false], [true, true]]) {
      const out = prodigyQuadratic(options, { skip, exclude });
      const d = out.ds[out.ds.length - 1];
      assert.ok(d > 5 * options.estimLr0, `${JSON.stringify(options)}: d grew only to ${d}`);
      assert.ok(Math.abs(d - out.refD) <= 2e-5 * out.refD, `d ${d} vs the reference's ${out.refD}`);
      out.refVars.forEach((rv, k) => {
        let scale = 0;
        for (const x of rv.values) scale = Math.max(scale, Math.abs(x));
        for (let i = 0; i < rv.values.length; i++) {
          const tol = 2e-5 * Math.abs(rv.values[i]) + 2e-6 * scale;
          assert.ok(Math.abs(out.weights[k][i] - rv.values[i]) <= tol, `${JSON.stringify(options)} skip=${skip} q${k}[${i}]: ${out.weights[k][i]} vs ${rv.values[i]}`);
        }
      });
    }
  }
});

test('Prodigy: deterministic whole-model sums: the same bits on every run, on the SIMD and scalar paths, and whatever the order of the pairs', () => {
  const options = { estimLr0: 1e-3, weightDecay: 0.05 };
  const a = prodigyQuadratic(options, { skip: true });
  const b = prodigyQuadratic(options, { skip: true });
  const c = prodigyQuadratic(options, { skip: true, order: [2, 0, 1] });
  setSimdEnabled(false);
  let d;
  try {
    d = prodigyQuadratic(options, { skip: true, order: [1, 2, 0] });
  } finally {
    setSimdEnabled(true);
  }
  for (const [label, other] of [['second run', b], ['pairs reordered', c], ['scalar kernels, pairs reordered', d]]) {
    sameBits(`${label}: d per update`, other.ds, a.ds);
    other.weights.forEach((w, k) => sameBits(`${label}: q${k}`, w, a.weights[k]));
    for (const name of Object.keys(a.state.variables)) sameBits(`${label}: ${name}`, other.state.variables[name].values, a.state.variables[name].values);
  }
  // The state carries d and the weighted numerator (float32, as optax's) and the initial weights.
  assert.ok(a.state.variables['prodigy/estim_lr'] && a.state.variables['prodigy/numerator_weighted'] && a.state.variables['q0/params0']);
  assert.is(a.state.variables['prodigy/estim_lr'].values[0], a.ds[a.ds.length - 1]);
});

test('Prodigy: params0 is the weights when first built (prepare or first gradient), and a restored state keeps its own', () => {
  const w = new Variable([1, 2, 3], { name: 'w' });
  const opt = new lib.Prodigy();
  opt.prepare([w]);
  w.value.set([5, 5, 5]);
  assert.equal(Array.from(opt.getSlot(w, 'params0').value), [1, 2, 3]);
  opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3]), w]]);
  assert.equal(Array.from(opt.getSlot(w, 'params0').value), [1, 2, 3]);
  const saved = opt.getState();
  const w2 = new Variable([7, 7, 7], { name: 'w' });
  const opt2 = new lib.Prodigy();
  opt2.setState(saved, [w2]);
  assert.equal(Array.from(opt2.getSlot(w2, 'params0').value), [1, 2, 3]);
  assert.is(opt2.estimatedLearningRate, opt.estimatedLearningRate);
  for (const x of [opt, opt2, w, w2]) x.dispose();
});

test('sparse gradients: the same bits as the dense update of the densified gradient (SIMD and scalar)', () => {
  for (const [className] of CASES) {
    for (const simd of [true, false]) {
      setSimdEnabled(simd);
      try {
        const C = lib[className];
        const sparse = train(C, { learningRate: 0.05 }, { sparse: true });
        // The dense optimizer on the densified versions of the very same gradients.
        const densified = sparse.grads.map(([g0, g1]) => {
          if (g1 instanceof Float32Array) return [g0, g1];
          const d = new Float32Array(35);
          Array.from(g1.indices).forEach((row, k) => {
            for (let j = 0; j < 7; j++) d[row * 7 + j] += g1.values[k * 7 + j];
          });
          return [g0, d];
        });
        const vars = sparse.init.map((x, i) => new Variable(x, { name: `w${i}`, shape: i ? [5, 7] : [17] }));
        const opt = new C({ learningRate: 0.05 });
        for (const gs of densified) opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
        vars.forEach((v, k) => sameBits(`${className} simd=${simd} w${k}`, v.value, sparse.weights[k]));
        const st = opt.getState();
        for (const name of Object.keys(st.variables)) sameBits(`${className} ${name}`, st.variables[name].values, sparse.state.variables[name].values);
        opt.dispose();
        vars.forEach((v) => v.dispose());
      } finally {
        setSimdEnabled(true);
      }
    }
  }
});

test('state: train N, save, restore into a fresh optimizer, train M == train N+M, weights and every slot bit for bit', () => {
  for (const [className] of CASES) {
    const C = lib[className];
    const r = rng(5);
    const opts = { learningRate: 0.05, useEma: true, gradientAccumulationSteps: 2 };
    const grads = Array.from({ length: 14 }, () => [r.f32(17), r.f32(6)]);
    const init = [r.f32(17), r.f32(6)];
    const make = (values) => values.map((x, i) => new Variable(x, { name: `w${i}`, shape: i ? [3, 2] : [17] }));
    const run = (o, vs, gs) => gs.forEach(([g0, g1]) => o.applyGradients([[g0, vs[0]], [g1, vs[1]]]));
    const whole = make(init);
    const o1 = new C(opts);
    run(o1, whole, grads);
    const half = make(init);
    const o2 = new C(opts);
    run(o2, half, grads.slice(0, 7));
    const saved = JSON.parse(JSON.stringify(o2.getState(), (k, v) => (v instanceof Float32Array ? Array.from(v) : v)));
    const resumed = make(half.map((v) => v.value));
    const o3 = new C(opts);
    o3.setState(saved, resumed);
    run(o3, resumed, grads.slice(7));
    whole.forEach((v, i) => sameBits(`${className} w${i}`, resumed[i].value, v.value));
    const a = o1.getState();
    const b = o3.getState();
    assert.equal(Object.keys(b.variables), Object.keys(a.variables));
    for (const name of Object.keys(a.variables)) sameBits(`${className} ${name}`, b.variables[name].values, a.variables[name].values);
    assert.is(o3.iterations, o1.iterations);
    for (const x of [o1, o2, o3, ...whole, ...half, ...resumed]) x.dispose();
  }
});

test('bad options throw a TypeError or RangeError naming the option', () => {
  const bad = [
    ['Adan', { beta1: 1 }, RangeError, 'Adan: beta1 must be a finite number >= 0 < 1, got 1'],
    ['Adan', { beta3: 0.99999999 }, RangeError, 'Adan: beta3 must be a finite number >= 0 < 1 representable in float32'],
    ['Adan', { epsRoot: -1 }, RangeError, 'Adan: epsRoot must be a finite number >= 0, got -1'],
    ['Adan', { eps_root: 0 }, TypeError, "Adan: unknown option 'eps_root' (did you mean epsRoot?)"],
    ['Adan', { b1: 0.9 }, TypeError, "Adan: unknown option 'b1'"],
    ['Adan', { weightDecay: -1 }, RangeError, 'Adan: weightDecay must be a finite number >= 0, got -1'],
    ['Adan', { weightDecay: 1e39 }, RangeError, 'Adan: weightDecay must be a finite number >= 0 representable in float32'],
    ['Adan', { epsilon: '1e-8' }, TypeError, "Adan: epsilon must be a finite number >= 0, got the string '1e-8'"],
    ['Adopt', { beta2: 1 }, RangeError, 'Adopt: beta2 must be a finite number >= 0 < 1, got 1'],
    ['Adopt', { epsilon: 1e39 }, RangeError, 'Adopt: epsilon must be a finite number >= 0 representable in float32'],
    ['Adopt', { nesterov: 1 }, TypeError, 'Adopt: nesterov must be a boolean, got 1'],
    ['Adopt', { useClipping: 'yes' }, TypeError, "Adopt: useClipping must be a boolean, got the string 'yes'"],
    ['Adopt', { clipValueFn: 0.5 }, TypeError, 'Adopt: clipValueFn must be a function of the update count or a LearningRateSchedule, got 0.5'],
    ['Adopt', { clip_value_fn: null }, TypeError, "Adopt: unknown option 'clip_value_fn' (did you mean clipValueFn?)"],
    ['Adopt', { muDtype: 'float32' }, TypeError, "Adopt: unknown option 'muDtype'"],
    ['AdEMAMix', { beta3: 1.5 }, RangeError, 'AdEMAMix: beta3 must be a finite number >= 0 <= 1, got 1.5'],
    ['AdEMAMix', { alpha: -1 }, RangeError, 'AdEMAMix: alpha must be a finite number >= 0, got -1'],
    ['AdEMAMix', { alpha: 1e39 }, RangeError, 'AdEMAMix: alpha must be a finite number >= 0 representable in float32'],
    ['AdEMAMix', { beta2: 1 }, RangeError, 'AdEMAMix: beta2 must be a finite number >= 0 < 1, got 1'],
    ['AdEMAMix', { b3: 0.9 }, TypeError, "AdEMAMix: unknown option 'b3'"],
    ['AdEMAMix', { eps_root: 0 }, TypeError, "AdEMAMix: unknown option 'eps_root' (did you mean epsRoot?)"],
    ['Prodigy', { estimLr0: 0 }, RangeError, 'Prodigy: estimLr0 must be a finite number > 0, got 0'],
    ['Prodigy', { estimLrCoef: -1 }, RangeError, 'Prodigy: estimLrCoef must be a finite number >= 0, got -1'],
    ['Prodigy', { beta3: 2 }, RangeError, 'Prodigy: beta3 must be a finite number >= 0 <= 1, got 2'],
    ['Prodigy', { safeguardWarmup: 1 }, TypeError, 'Prodigy: safeguardWarmup must be a boolean, got 1'],
    ['Prodigy', { weightDecay: () => 0.1 }, TypeError, "Prodigy: weightDecay must be a finite number >= 0 (optax's takes no schedule), got a function"],
    ['Prodigy', { betas: [0.9, 0.999] }, TypeError, "Prodigy: unknown option 'betas'"],
    ['Prodigy', { estim_lr0: 1e-6 }, TypeError, "Prodigy: unknown option 'estim_lr0' (did you mean estimLr0?)"],
  ];
  for (const [className, options, type, message] of bad) {
    try {
      new lib[className](options);
      assert.unreachable(`${className} ${JSON.stringify(options)}: no error`);
    } catch (e) {
      assert.instance(e, type, `${className} ${JSON.stringify(options)}: ${e.message}`);
      assert.ok(e.message.includes(message), `${e.message}\n  expected to contain\n${message}`);
    }
  }
});

test('a steady-state step allocates nothing (fresh process, 1 MiB young generation: no collection)', () => {
  for (const [className] of CASES) {
    const code = `
      import * as lib from ${JSON.stringify(repoFile('build', 'index.js'))};
      import { PerformanceObserver } from 'node:perf_hooks';
      await lib.ready();
      const a = new lib.Variable(new Float32Array(1000).fill(0.5), { name: 'a', shape: [250, 4] });
      const b = new lib.Variable(new Float32Array(7).fill(-0.5), { name: 'b' });
      const ga = new lib.Variable(new Float32Array(1000).fill(0.01), { name: 'ga' });
      const gb = new Float32Array(7).fill(0.02);
      const opt = new lib.${className}({ learningRate: 1e-4, weightDecay: 0.01, globalClipnorm: 1 });
      opt.prepare([a, b]);
      const pairs = [[ga.value, a], [gb, b]];
      for (let i = 0; i < 20000; i++) opt.applyGradients(pairs);
      let collections = 0;
      const obs = new PerformanceObserver((l) => { collections += l.getEntries().length; });
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 10));
      obs.observe({ entryTypes: ['gc'] });
      const mem = lib.defaultHeap().memory.buffer.byteLength;
      for (let i = 0; i < 200000; i++) opt.applyGradients(pairs);
      await new Promise((r) => setTimeout(r, 10));
      obs.disconnect();
      console.log(JSON.stringify({ collections, growth: lib.defaultHeap().memory.buffer.byteLength - mem }));`;
    const out = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.is(out.status, 0, out.stderr);
    const r = JSON.parse(out.stdout.trim().split('\n').pop());
    console.log(`  ${className}: ${r.collections} collections in 200000 steps, wasm growth ${r.growth}`);
    assert.is(r.collections, 0, `${className}: a 1 MiB young generation filled up, so steps allocate`);
    assert.is(r.growth, 0);
  }
});

test.run();
