// Lamb, Adafactor, LazyAdam, Yogi, RAdam and the Lookahead / SWA wrappers against their float64
// references (SIMD == scalar), LazyAdam's lazy rows, configs and states, and option validation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ready, setSimdEnabled, Variable, deserialize, Optimizer, SGD, Adam, Lamb, Adafactor, LazyAdam, Yogi, RAdam, Lookahead, SWA,
} from '../build/index.js';
import { ATOL, RTOL, SHAPES, assertSameBits, baseCombos, combos, conformance, conformanceAll } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';
import { RefOptimizer } from './reference/base.mjs';
import { adam } from './reference/adam.mjs';
import { sgd } from './reference/sgd.mjs';
import { lamb } from './reference/lamb.mjs';
import { adafactor } from './reference/adafactor.mjs';
import { lazyAdam } from './reference/lazy-adam.mjs';
import { yogi } from './reference/yogi.mjs';
import { radam } from './reference/radam.mjs';
import { RefLookahead, RefSWA } from './reference/wrappers.mjs';

await ready();

// Every own option takes two values (the learning rate one, or two for Adafactor); every combination
// of them x all 128 base combinations (clipping x decay x EMA x accumulation x loss scale x skipNonFinite).
const BASES = baseCombos();

function full(own) {
  return own.flatMap((o) => BASES.map((b) => ({ ...o, ...b })));
}

const cases = [
  [Lamb, lamb, full(combos({ beta1: [0.9, 0.5], beta2: [0.999, 0.9], epsilon: [1e-7, 1e-3], learningRate: [0.01] }))],
  [
    Adafactor,
    adafactor,
    // relativeStep changes nothing (as in Keras; its own test below), so it is not crossed.
    full(combos({ learningRate: [0.01, 0.5], clipThreshold: [1, 0.5], epsilon1: [1e-30, 1e-3], epsilon2: [1e-3, 2], beta2Decay: [-0.8, -0.5] })),
  ],
  [
    Yogi,
    yogi,
    full(
      combos({
        beta1: [0.9, 0],
        beta2: [0.999, 0.9],
        epsilon: [1e-3, 1e-2],
        activation: ['sign', 'tanh'],
        l1RegularizationStrength: [0, 0.01],
        l2RegularizationStrength: [0, 0.05],
        initialAccumulatorValue: [1e-6, 0.1],
      }),
    ),
  ],
  [
    RAdam,
    radam,
    full(
      combos({
        amsgrad: [false, true],
        beta1: [0.9, 0.8],
        beta2: [0.999, 0.9],
        epsilon: [1e-7, 1e-3],
        smaThreshold: [5, 8],
        warmup: [{}, { totalSteps: 10, warmupProportion: 0.3, minLr: 0.002 }, { totalSteps: 4, warmupProportion: 0 }],
        learningRate: [0.01],
      }).map(({ warmup, ...o }) => ({ ...o, ...warmup })),
    ),
  ],
];

for (const [Cls, , runs] of cases) {
  test(`${Cls.className} matches the float64 reference for every own option combination (SIMD == scalar)`, async () => {
    const name = Cls.className.toLowerCase();
    await conformanceAll(Cls.className, [new URL(`./reference/${name}.mjs`, import.meta.url).href, name], runs);
  });
}

test('defaults match Keras 3 (Lamb, Adafactor) and TensorFlow Addons (Yogi, RAdam, LazyAdam, Lookahead, SWA)', () => {
  for (const [Cls, spec] of cases) conformance(Cls, spec, {}, { steps: 10, seed: 7 });
  const expect = {
    Lamb: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
    Adafactor: { learningRate: 0.001, beta2Decay: -0.8, epsilon1: 1e-30, epsilon2: 1e-3, clipThreshold: 1, relativeStep: true },
    Yogi: {
      learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-3, l1RegularizationStrength: 0, l2RegularizationStrength: 0,
      initialAccumulatorValue: 1e-6, activation: 'sign',
    },
    RAdam: {
      learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, amsgrad: false, smaThreshold: 5, totalSteps: 0,
      warmupProportion: 0.1, minLr: 0,
    },
    LazyAdam: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, amsgrad: false },
  };
  for (const Cls of [Lamb, Adafactor, Yogi, RAdam, LazyAdam]) {
    const config = new Cls().getConfig();
    for (const [key, value] of Object.entries(expect[Cls.className])) assert.is(config[key], value, `${Cls.className}.${key}`);
  }
  const la = new Lookahead(new SGD());
  assert.is(la.syncPeriod, 6);
  assert.is(la.slowStepSize, 0.5);
  const swa = new SWA(new SGD());
  assert.is(swa.startStep, 0);
  assert.is(swa.averagePeriod, 10);
});

// ---------------------------------------------------------------- a runner for shapes and hooks conformance() does not cover

function closeTo(label, ours, ref) {
  let scale = 0;
  for (const x of ref) scale = Math.max(scale, Math.abs(x));
  for (let i = 0; i < ref.length; i++) {
    const tol = RTOL * Math.abs(ref[i]) + ATOL * scale + 1e-30;
    if (!(Math.abs(ours[i] - ref[i]) <= tol)) assert.unreachable(`${label}[${i}]: ours ${ours[i]} vs float64 reference ${ref[i]}`);
  }
}

const sizeOf = (shape) => shape.reduce((a, b) => a * b, 1);

/** Seeded gradients: dense, sometimes null (variable 0), sparse rows on odd steps when `sparse`. */
function gradients(r, step, shapes, sparse) {
  return shapes.map((shape, k) => {
    if (k === 0 && step % 5 === 4) return null;
    if (sparse && step % 2 === 1) {
      const rows = shape[0];
      const count = step % 4 === 1 ? 0 : 5;
      const indices = Int32Array.from({ length: count }, (_, i) => (i === 1 ? 0 : r.int(rows)));
      if (count) indices[count - 1] = indices[0]; // a duplicate, unsorted
      return { indices, values: r.f32((count * sizeOf(shape)) / rows, 0.3) };
    }
    return r.f32(sizeOf(shape), 0.3);
  });
}

/**
 * Runs `make()` (ours) and `makeRef()` (float64) on the same seeded gradients; `onStep(ref, grads,
 * refVars)` runs before each reference step. Returns ours and the reference for comparisons, after
 * checking that the scalar kernels give the same bits as the SIMD ones (weights and every slot).
 */
function runBoth({ make, makeRef, shapes, steps = 12, seed = 11, sparse = false, onStep }) {
  const play = () => {
    const r = rng(seed);
    const opt = make();
    const vars = shapes.map((shape, k) => new Variable(r.f32(sizeOf(shape)), { shape, name: `v${k}` }));
    const grads = [];
    for (let s = 0; s < steps; s++) {
      const gs = gradients(r, s, shapes, sparse);
      grads.push(gs);
      opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
    }
    return { opt, vars, grads };
  };
  const ours = play();
  const init = rng(seed);
  const ref = makeRef();
  const refVars = shapes.map((shape, k) => ({ shape, name: `v${k}`, values: Float64Array.from(init.f32(sizeOf(shape))) }));
  for (const gs of ours.grads) {
    onStep?.(ref, gs, refVars);
    ref.apply(gs.map((g, k) => [g, refVars[k]]));
  }
  setSimdEnabled(false);
  let scalar;
  try {
    scalar = play();
  } finally {
    setSimdEnabled(true);
  }
  assertSameBits(ours.opt.getClassName(), ours, scalar);
  scalar.opt.dispose();
  for (const v of scalar.vars) v.dispose();
  return { ...ours, ref, refVars, dispose: () => [ours.opt, ...ours.vars].forEach((x) => x.dispose()) };
}

// ---------------------------------------------------------------- Adafactor beyond rank 2

test('Adafactor factors the last two axes of rank-3 and rank-4 variables (leading axes are batches)', () => {
  const shapes = [[2, 3, 5], [4, 1, 6], [3, 4, 1], [2, 2, 2, 3], [2, 9, 17]];
  for (const options of combos({ learningRate: [0.5], clipThreshold: [1, 0.5], weightDecay: [undefined, 0.05] })) {
    const run = runBoth({ make: () => new Adafactor(options), makeRef: () => new RefOptimizer(adafactor, options), shapes, sparse: true });
    run.refVars.forEach((rv, k) => {
      const label = `Adafactor ${JSON.stringify(options)} ${rv.name}`;
      closeTo(label, run.vars[k].value, rv.values);
      const slots = run.ref.state(rv).slots;
      closeTo(`${label}/r`, run.opt.getSlot(run.vars[k], 'r').value, slots.r);
      closeTo(`${label}/c`, run.opt.getSlot(run.vars[k], 'c').value, slots.c);
    });
    run.dispose();
  }
  // Slot shapes: r drops the last axis, c the second last; rank 1 keeps a full v.
  const opt = new Adafactor();
  const m = Variable.zeros([2, 3, 5], { name: 'm' });
  const b = Variable.zeros([5], { name: 'b' });
  opt.prepare([m, b]);
  assert.equal(opt.getSlot(m, 'r').shape, [2, 3]);
  assert.equal(opt.getSlot(m, 'c').shape, [2, 5]);
  assert.equal(opt.getSlot(b, 'v').shape, [5]);
  assert.throws(() => opt.getSlot(m, 'v'), /no slot 'v'/);
  opt.dispose();
  m.dispose();
  b.dispose();
});

test('Adafactor: betaTwoDecay is beta2Decay, and relativeStep changes nothing (as in Keras)', () => {
  const weights = (options) => {
    const w = new Variable(rng(3).f32(24), { shape: [4, 6], name: 'w' });
    const opt = new Adafactor({ learningRate: 0.3, ...options });
    const r = rng(4);
    for (let s = 0; s < 6; s++) opt.applyGradients([[r.f32(24), w]]);
    const out = w.value.slice();
    opt.dispose();
    w.dispose();
    return out;
  };
  const base = weights({ beta2Decay: -0.5 });
  assert.equal(weights({ betaTwoDecay: -0.5 }), base);
  assert.equal(weights({ beta2Decay: -0.5, betaTwoDecay: -0.5 }), base);
  assert.equal(weights({ beta2Decay: -0.5, relativeStep: false }), base);
  assert.is(new Adafactor({ betaTwoDecay: -0.6 }).getConfig().beta2Decay, -0.6);
});

// ---------------------------------------------------------------- LazyAdam

test('LazyAdam: dense gradients take exactly Adam\'s step (same bits), against the float64 Adam too', async () => {
  const dense = combos({ beta1: [0.9, 0.8], beta2: [0.999, 0.9], epsilon: [1e-7, 1e-3], learningRate: [0.01] });
  await conformanceAll('LazyAdam', [new URL('./reference/adam.mjs', import.meta.url).href, 'adam'], full(dense), { sparse: false });
  for (const options of [{}, { learningRate: 0.02, weightDecay: 0.01, clipnorm: 0.5 }, { gradientAccumulationSteps: 2, useEma: true }]) {
    const r1 = rng(5);
    const r2 = rng(5);
    const a = new Variable(r1.f32(37), { name: 'a' });
    const b = new Variable(r2.f32(37), { name: 'b' });
    const lazy = new LazyAdam(options);
    const plain = new Adam(options);
    for (let s = 0; s < 7; s++) {
      const g = r1.f32(37);
      r2.f32(37);
      lazy.applyGradients([[g, a]]);
      plain.applyGradients([[g, b]]);
    }
    assert.equal(a.value, b.value);
    assert.equal(lazy.getSlot(a, 'v').value, plain.getSlot(b, 'v').value);
    [a, b, lazy, plain].forEach((x) => x.dispose());
  }
});

test('LazyAdam: sparse gradients update only the named rows, matching the float64 lazy rule (SIMD == scalar)', () => {
  // Rows of 7, 6 and 9 floats take the SIMD loop and a scalar tail; [5] has rows of one float.
  const shapes = [[9, 7], [40, 6], [60, 9], [5]];
  for (const options of BASES.map((b) => ({ learningRate: 0.01, ...b }))) {
    // Accumulated gradients are summed densely, so those steps are dense (Adam) steps.
    const lazyRows = !options.gradientAccumulationSteps;
    const run = runBoth({
      make: () => new LazyAdam(options),
      makeRef: () => new RefOptimizer(lazyAdam, options),
      shapes,
      sparse: true,
      onStep(ref, gs, refVars) {
        gs.forEach((g, k) => {
          if (g && !ArrayBuffer.isView(g) && lazyRows) ref.globals.touched.set(refVars[k].values, new Set(g.indices));
          else ref.globals.touched.delete(refVars[k].values);
        });
      },
    });
    run.refVars.forEach((rv, k) => {
      const label = `LazyAdam ${JSON.stringify(options)} ${rv.name}`;
      closeTo(label, run.vars[k].value, rv.values);
      for (const slot of ['m', 'v']) closeTo(`${label}/${slot}`, run.opt.getSlot(run.vars[k], slot).value, run.ref.state(rv).slots[slot]);
    });
    run.dispose();
  }
});

test('LazyAdam: rows a sparse gradient does not name keep their weights and moments bit for bit', () => {
  const r = rng(9);
  const w = new Variable(r.f32(50 * 6), { shape: [50, 6], name: 'table' });
  const opt = new LazyAdam({ learningRate: 0.01 });
  opt.applyGradients([[r.f32(300), w]]); // moments become non-zero everywhere
  const before = [w.value.slice(), opt.getSlot(w, 'm').value.slice(), opt.getSlot(w, 'v').value.slice()];
  const indices = [40, 3, 17, 17];
  opt.applyGradients([[{ indices, values: r.f32(indices.length * 6) }, w]]);
  const after = [w.value, opt.getSlot(w, 'm').value, opt.getSlot(w, 'v').value];
  for (let row = 0; row < 50; row++) {
    const touched = indices.includes(row);
    for (let k = 0; k < 3; k++) {
      for (let j = row * 6; j < row * 6 + 6; j++) {
        if (touched) assert.ok(after[k][j] !== before[k][j], `row ${row} (touched) should change`);
        else assert.ok(Object.is(after[k][j], before[k][j]), `row ${row} (untouched) changed`);
      }
    }
  }
  opt.dispose();
  w.dispose();
});

// ---------------------------------------------------------------- wrappers

function compareWrapper(run, slotName, refSlots, innerSlots, label) {
  run.refVars.forEach((rv, k) => {
    closeTo(`${label} ${rv.name}`, run.vars[k].value, rv.values);
    const own = refSlots.get(rv);
    if (own) closeTo(`${label} ${rv.name}/${slotName}`, run.opt.getSlot(run.vars[k], slotName).value, own);
    const inner = run.ref.inner.state(rv).slots;
    for (const name of innerSlots) closeTo(`${label} ${rv.name}/${name}`, run.opt.getSlot(run.vars[k], name).value, inner[name]);
  });
  assert.is(run.opt.iterations, run.ref.iterations, `${label}: iterations`);
}

const INNERS = [
  [SGD, sgd, { learningRate: 0.05 }, []],
  [SGD, sgd, { learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, ['momentum']],
  [Adam, adam, { learningRate: 0.01 }, ['m', 'v']],
  [Adam, adam, { learningRate: 0.01, clipnorm: 0.5, gradientAccumulationSteps: 3, useEma: true, emaMomentum: 0.9 }, ['m', 'v']],
];

test('Lookahead around SGD and Adam matches its float64 reference (SIMD == scalar)', () => {
  for (const [Inner, spec, innerOptions, innerSlots] of INNERS) {
    for (const options of [{}, { syncPeriod: 3, slowStepSize: 0.3 }, { syncPeriod: 1, slowStepSize: 0.8 }]) {
      const run = runBoth({
        make: () => new Lookahead(new Inner(innerOptions), options),
        makeRef: () => new RefLookahead(new RefOptimizer(spec, innerOptions), options),
        shapes: SHAPES,
        steps: 14,
        sparse: true,
      });
      compareWrapper(run, 'slow', run.ref.slow, innerSlots, `Lookahead(${Inner.className} ${JSON.stringify(innerOptions)}) ${JSON.stringify(options)}`);
      run.dispose();
    }
  }
});

test('SWA around SGD and Adam matches its float64 reference; finalizeVariableValues copies the averages', () => {
  for (const [Inner, spec, innerOptions, innerSlots] of INNERS) {
    for (const options of [{}, { startStep: 3, averagePeriod: 4 }, { startAveraging: 2, averagePeriod: 1 }]) {
      const refOptions = { startStep: options.startStep ?? options.startAveraging, averagePeriod: options.averagePeriod };
      const run = runBoth({
        make: () => new SWA(new Inner(innerOptions), options),
        makeRef: () => new RefSWA(new RefOptimizer(spec, innerOptions), refOptions),
        shapes: SHAPES,
        steps: 14,
        sparse: true,
      });
      const label = `SWA(${Inner.className} ${JSON.stringify(innerOptions)}) ${JSON.stringify(options)}`;
      compareWrapper(run, 'average', run.ref.avg, innerSlots, label);
      const it = run.opt.iterations;
      const start = run.opt.startStep;
      assert.is(run.opt.snapshots, it > start ? Math.floor((it - 1 - start) / run.opt.averagePeriod) + 1 : 0, `${label}: snapshots`);
      run.opt.finalizeVariableValues();
      run.refVars.forEach((rv, k) => {
        const expected = run.opt.snapshots > 0 ? run.ref.avg.get(rv) : rv.values;
        closeTo(`${label} finalized ${rv.name}`, run.vars[k].value, expected);
      });
      run.dispose();
    }
  }
});

test('Lookahead syncs and SWA averages every built variable, also one without a gradient in that step', () => {
  const wrappers = [
    [() => new Lookahead(new Adam({ learningRate: 0.1 }), { syncPeriod: 3 }), () => new RefLookahead(new RefOptimizer(adam, { learningRate: 0.1 }), { syncPeriod: 3 }), 'slow', 'slow'],
    [() => new SWA(new Adam({ learningRate: 0.1 }), { startStep: 2, averagePeriod: 3 }), () => new RefSWA(new RefOptimizer(adam, { learningRate: 0.1 }), { startStep: 2, averagePeriod: 3 }), 'average', 'avg'],
  ];
  for (const [make, makeRef, slotName, refSlots] of wrappers) {
    const r = rng(13);
    const opt = make();
    const ref = makeRef();
    const vars = [new Variable(r.f32(6), { name: 'a' }), new Variable(r.f32(5), { name: 'b' })];
    const refVars = vars.map((v) => ({ shape: [...v.shape], name: v.name, values: Float64Array.from(v.value) }));
    for (let s = 0; s < 7; s++) {
      // 'b' has no gradient on the 3rd and 6th updates: the sync / snapshot steps.
      const gs = [r.f32(6), s === 2 || s === 5 ? null : r.f32(5)];
      opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
      ref.apply(gs.map((g, k) => [g, refVars[k]]));
    }
    refVars.forEach((rv, k) => {
      closeTo(`${opt.getClassName()} ${rv.name}`, vars[k].value, rv.values);
      closeTo(`${opt.getClassName()} ${rv.name}/${slotName}`, opt.getSlot(vars[k], slotName).value, ref[refSlots].get(rv));
    });
    [opt, ...vars].forEach((x) => x.dispose());
  }
});

test('SWA before its first snapshot: finalizeVariableValues leaves the weights alone', () => {
  const w = new Variable(new Float32Array([1, 2, 3]), { name: 'w' });
  const swa = new SWA(new SGD({ learningRate: 0.1 }), { startStep: 5 });
  for (let s = 0; s < 5; s++) swa.applyGradients([[new Float32Array([1, 1, 1]), w]]);
  assert.is(swa.snapshots, 0);
  const before = w.value.slice();
  swa.finalizeVariableValues();
  assert.equal(w.value, before);
  swa.applyGradients([[new Float32Array([1, 1, 1]), w]]);
  assert.is(swa.snapshots, 1);
  swa.finalizeVariableValues([w]);
  assert.equal(Array.from(w.value), Array.from(before, (x) => Math.fround(x - 0.1)));
  swa.dispose();
  w.dispose();
});

test('wrappers: a refused step changes no weight, slot or counter; slow weights start from the weights when the wrapper first sees the variable', () => {
  const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
  const la = new Lookahead(new Adam({ learningRate: 0.1 }), { syncPeriod: 2 });
  assert.throws(() => la.applyGradients([[new Float32Array(3), w]]), /Adam.applyGradients: the gradient for 'w' has 3 values, expected 4/);
  assert.is(la.iterations, 0);
  assert.equal(Array.from(w.value), [1, 2, 3, 4]);
  assert.equal(Object.keys(la.getState().variables), [], 'no slot was built');
  const u = new Variable(new Float32Array([1, 1]), { name: 'u' });
  la.prepare([u]); // u's slow weights are taken now, from [1, 1] (as TFA's slot initializer does)...
  w.assign([5, 6, 7, 8]); // ...w's at its first step, from what the user set meanwhile
  u.assign([-1, 3]);
  const ref = new RefLookahead(new RefOptimizer(adam, { learningRate: 0.1 }), { syncPeriod: 2 });
  const rw = { shape: [4], name: 'w', values: Float64Array.from([5, 6, 7, 8]) };
  const ru = { shape: [2], name: 'u', values: Float64Array.from([-1, 3]) };
  ref.slow.set(ru, Float64Array.from([1, 1]));
  for (let s = 0; s < 4; s++) {
    const g = new Float32Array([0.5, -1, 0.25, 2].map((x) => x * (s + 1)));
    const gu = s === 0 ? null : new Float32Array([0.3, -0.2]);
    la.applyGradients([[g, w], [gu, u]]);
    ref.apply([[g, rw], [gu, ru]]);
  }
  for (const [v, rv] of [[w, rw], [u, ru]]) {
    closeTo(v.name, v.value, rv.values);
    closeTo(`${v.name}/slow`, la.getSlot(v, 'slow').value, ref.slow.get(rv));
  }
  u.dispose();
  const state = la.getState();
  assert.throws(() => la.applyGradients([[new Float32Array(4), w], [null, 'x']]), /must be a Variable/);
  assert.equal(la.getState(), state);
  assert.throws(() => la.updateStep(new Float32Array(4), w, 0.1), /updates through its inner optimizer/);
  la.dispose();
  assert.ok(la.inner.disposed, 'the wrapper owns its inner optimizer');
  w.dispose();
});

test('wrappers delegate learningRate, iterations, slots and weight-decay exclusion to the inner optimizer', () => {
  const inner = new Adam({ learningRate: 0.01, weightDecay: 0.1 });
  const la = new Lookahead(inner);
  assert.is(la.learningRate, Math.fround(0.01));
  la.learningRate = 0.02;
  assert.is(inner.learningRate, Math.fround(0.02));
  const w = new Variable(new Float32Array([1, 1]), { name: 'frozen' });
  la.excludeFromWeightDecay({ names: ['frozen'] });
  la.applyGradients([[new Float32Array([0, 0]), w]]);
  assert.equal(Array.from(w.value), [1, 1]); // no decay: excluded on the inner optimizer
  assert.is(la.iterations, 1);
  assert.is(la.getSlot(w, 'm'), inner.getSlot(w, 'm'));
  assert.equal(la.variables.map((v) => v.name), ['frozen/slow', 'frozen/m', 'frozen/v']);
  la.dispose();
  w.dispose();
});

// ---------------------------------------------------------------- configs and states

const makers = [
  () => new Lamb({ learningRate: 0.02, beta1: 0.8, weightDecay: 0.01, name: 'l' }),
  () => new Adafactor({ learningRate: 0.2, beta2Decay: -0.6, epsilon2: 0.01, clipThreshold: 0.7, relativeStep: false }),
  () => new LazyAdam({ learningRate: 0.02, beta2: 0.99, clipvalue: 1 }),
  () => new Yogi({ beta1: 0, l1RegularizationStrength: 0.01, l2RegularizationStrength: 0.02, activation: 'tanh', initialAccumulatorValue: 0.1 }),
  () => new RAdam({ amsgrad: true, smaThreshold: 4, totalSteps: 10, warmupProportion: 0.2, minLr: 1e-4, learningRate: 0.01 }),
  () => new Lookahead(new Adam({ learningRate: 0.01, amsgrad: true, gradientAccumulationSteps: 2 }), { syncPeriod: 3, slowStepSize: 0.25, name: 'ranger' }),
  () => new SWA(new SGD({ learningRate: 0.05, momentum: 0.9 }), { startStep: 2, averagePeriod: 3 }),
  () => new SWA(new Lookahead(new RAdam({ learningRate: 0.01 }), { syncPeriod: 2 }), { averagePeriod: 2 }),
];

test('configs round-trip through JSON, fromConfig and the registry', () => {
  for (const make of makers) {
    const opt = make();
    const Cls = opt.constructor;
    const config = JSON.parse(JSON.stringify(opt.getConfig()));
    const again = Cls.fromConfig(config);
    assert.instance(again, Cls);
    assert.equal(again.getConfig(), opt.getConfig());
    const viaRegistry = deserialize({ className: Cls.className, config });
    assert.instance(viaRegistry, Cls);
    assert.equal(viaRegistry.getConfig(), opt.getConfig());
    if (opt.inner) assert.is(again.inner.constructor, opt.inner.constructor);
    [opt, again, viaRegistry].forEach((o) => o.dispose());
  }
});

test('states round-trip (getState/setState and binary checkpoints): training continues bit for bit', () => {
  const shapes = [[9, 7], [17]];
  for (const make of makers) {
    const r = rng(21);
    const a = make();
    const va = shapes.map((shape, k) => new Variable(r.f32(sizeOf(shape)), { shape, name: `w${k}` }));
    const grads = Array.from({ length: 10 }, () => shapes.map((shape) => r.f32(sizeOf(shape), 0.3)));
    for (let s = 0; s < 5; s++) a.applyGradients(grads[s].map((g, k) => [g, va[k]]));
    const state = a.getState();
    assert.is(state.className, a.getClassName());
    const vb = va.map((v) => new Variable(v.value, { shape: v.shape, name: v.name }));
    const b = a.constructor.fromConfig(JSON.parse(JSON.stringify(a.getConfig())));
    b.setState(state, vb);
    const vc = va.map((v) => new Variable(v.value, { shape: v.shape, name: v.name }));
    const c = Optimizer.fromCheckpoint(a.saveState(), vc);
    assert.is(b.iterations, a.iterations);
    assert.is(c.iterations, a.iterations);
    for (let s = 5; s < 10; s++) {
      for (const [o, vs] of [[a, va], [b, vb], [c, vc]]) o.applyGradients(grads[s].map((g, k) => [g, vs[k]]));
    }
    va.forEach((v, k) => {
      assert.equal(vb[k].value, v.value, `${a.getClassName()}: setState`);
      assert.equal(vc[k].value, v.value, `${a.getClassName()}: checkpoint`);
    });
    assert.equal(b.getState(), a.getState());
    [a, b, c, ...va, ...vb, ...vc].forEach((x) => x.dispose());
  }
});

test('a wrapper state refused by the inner optimizer changes nothing', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const la = new Lookahead(new Adam({ learningRate: 0.1 }));
  la.applyGradients([[new Float32Array([1, 1]), w]]);
  const state = la.getState();
  assert.ok('inner:w/m' in state.variables && 'w/slow' in state.variables, JSON.stringify(Object.keys(state.variables)));
  const bad = { ...state, variables: { ...state.variables, 'w/slow': { shape: [2], values: [9, 9] } } };
  delete bad.variables['inner:w/v'];
  assert.throws(() => la.setState(bad), /lacks 'w\/v'/);
  assert.equal(la.getState(), state);
  assert.throws(() => la.setState({ ...state, className: 'Adam' }), /belongs to a Adam/);
  la.dispose();
  w.dispose();
});

// ---------------------------------------------------------------- validation

test('bad options throw a TypeError/RangeError naming the option', () => {
  const sgd = () => new SGD();
  const bad = [
    [() => new Lamb({ beta1: 1 }), /beta1/],
    [() => new Lamb({ epsilon: -1 }), /epsilon/],
    [() => new Adafactor({ beta2Decay: 0.5 }), /beta2Decay/],
    [() => new Adafactor({ betaTwoDecay: 'x' }), /betaTwoDecay/],
    [() => new Adafactor({ beta2Decay: -0.5, betaTwoDecay: -0.8 }), /beta2Decay .* betaTwoDecay/],
    [() => new Adafactor({ epsilon1: -1 }), /epsilon1/],
    [() => new Adafactor({ epsilon2: NaN }), /epsilon2/],
    [() => new Adafactor({ clipThreshold: 0 }), /clipThreshold/],
    [() => new Adafactor({ relativeStep: 1 }), /relativeStep/],
    [() => new LazyAdam({ amsgrad: true }), /amsgrad/],
    [() => new LazyAdam({ beta2: 1 }), /beta2/],
    [() => new Yogi({ beta1: -0.1 }), /beta1/],
    [() => new Yogi({ l1RegularizationStrength: -1 }), /l1RegularizationStrength/],
    [() => new Yogi({ l2RegularizationStrength: Infinity }), /l2RegularizationStrength/],
    [() => new Yogi({ initialAccumulatorValue: -1 }), /initialAccumulatorValue/],
    [() => new Yogi({ activation: 'relu' }), /activation/],
    [() => new RAdam({ smaThreshold: 3 }), /smaThreshold/],
    [() => new RAdam({ totalSteps: 1.5 }), /totalSteps/],
    [() => new RAdam({ warmupProportion: 2 }), /warmupProportion/],
    [() => new RAdam({ minLr: -1 }), /minLr/],
    [() => new RAdam({ amsgrad: 'yes' }), /amsgrad/],
    [() => new Lookahead(sgd(), { syncPeriod: 0 }), /syncPeriod/],
    [() => new Lookahead(sgd(), { syncPeriod: 2.5 }), /syncPeriod/],
    [() => new Lookahead(sgd(), { slowStepSize: 1.5 }), /slowStepSize/],
    [() => new Lookahead(sgd(), { clipnorm: 1 }), /clipnorm belongs on the inner optimizer/],
    [() => new Lookahead(sgd(), { learningRate: 0.1 }), /learningRate belongs on the inner optimizer/],
    [() => new Lookahead({}, {}), /inner optimizer must be an Optimizer/],
    [() => new SWA(sgd(), { averagePeriod: 0 }), /averagePeriod/],
    [() => new SWA(sgd(), { startStep: -1 }), /startStep/],
    [() => new SWA(sgd(), { startAveraging: 0.5 }), /startAveraging/],
    [() => new SWA(sgd(), { startStep: 1, startAveraging: 2 }), /startStep .* startAveraging/],
    [() => new SWA(sgd(), { useEma: true }), /useEma belongs on the inner optimizer/],
    [() => Lookahead.fromConfig({ syncPeriod: 2 }), /config.optimizer/],
    [() => Lookahead.fromConfig({ optimizer: { className: 'Nope', config: {} } }), /unknown optimizer class 'Nope'/],
  ];
  for (const [make, pattern] of bad) {
    let error;
    try {
      make();
    } catch (e) {
      error = e;
    }
    assert.ok(error, `expected ${pattern} to throw`);
    assert.ok(error instanceof TypeError || error instanceof RangeError || /unknown optimizer/.test(error.message), `${error}`);
    assert.match(error.message, pattern);
  }
  const disposed = new SGD();
  disposed.dispose();
  assert.throws(() => new SWA(disposed), /inner optimizer was disposed/);
});

test.run();
