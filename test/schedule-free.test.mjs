// ScheduleFreeAdamW (Keras 3.14) and ScheduleFreeSGD (optax contrib): the float64 references over
// the full option cross, the authorities' float32 op sequences bit for bit (SIMD and scalar), the
// evaluation/training swap (evalParams / trainParams), checkpoints, sparse gradients, the
// allocation-free step, and the model.fit callback on the cpu and wasm backends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { ready, setSimdEnabled, Variable, Optimizer, ScheduleFreeAdamW, ScheduleFreeSGD } from '../build/index.js';
import * as optim from '../build/tfjs/index.js';
import { baseCombos, combos, conformance, conformanceAll } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';
import { evalPoint, scheduleFreeAdamW, scheduleFreeSGD } from './reference/schedule-free.mjs';
import { tf, tfl, quietly } from './helpers/tfjs.mjs';
import { readFileSync } from 'node:fs';
import { importTs, repoFile } from './helpers/load-ts.mjs';
import { data, fit, net } from './helpers/fit-callbacks.mjs';

await ready();

const REF = new URL('./reference/schedule-free.mjs', import.meta.url).href;
const BASES = baseCombos();
const full = (own) => own.flatMap((o) => BASES.map((b) => ({ ...o, ...b })));

// Own options x the 128 base combinations. ScheduleFreeSGD's weightDecay (optax's, inside the
// update) is crossed through the base grid's weightDecay values.
const CROSS = [
  [ScheduleFreeAdamW, 'scheduleFreeAdamW', full(combos({ beta1: [0.9, 0.5], beta2: [0.999, 0.9], epsilon: [1e-8, 1e-3], warmupSteps: [0, 5], learningRate: [0.01] }))],
  [ScheduleFreeSGD, 'scheduleFreeSGD', full(combos({ beta1: [0.9, 0.5], warmupSteps: [undefined, 4], weightLrPower: [2, 1, 0.5], learningRate: [0.1] }))],
];

for (const [Cls, ref, runs] of CROSS) {
  test(`${Cls.className} matches the float64 reference for every own option x base option combination (SIMD == scalar, weights and slots)`, async () => {
    await conformanceAll(Cls.className, [REF, ref], runs);
  });
}

test('defaults: Keras 3.14 (ScheduleFreeAdamW) and optax (ScheduleFreeSGD), and their runs match the references', () => {
  const a = new ScheduleFreeAdamW().getConfig();
  assert.equal(
    { name: a.name, learningRate: a.learningRate, beta1: a.beta1, beta2: a.beta2, epsilon: a.epsilon, warmupSteps: a.warmupSteps, weightDecay: a.weightDecay },
    { name: 'schedule_free_adamw', learningRate: 0.0025, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, warmupSteps: 0, weightDecay: null },
  );
  const s = new ScheduleFreeSGD().getConfig();
  assert.equal(
    { name: s.name, learningRate: s.learningRate, beta1: s.beta1, warmupSteps: s.warmupSteps, weightDecay: s.weightDecay, weightLrPower: s.weightLrPower },
    { name: 'schedule_free_sgd', learningRate: 1, beta1: 0.9, warmupSteps: null, weightDecay: null, weightLrPower: 2 },
  );
  conformance(ScheduleFreeAdamW, scheduleFreeAdamW, {}, { steps: 10, seed: 7 });
  conformance(ScheduleFreeSGD, scheduleFreeSGD, { learningRate: 0.05 }, { steps: 10, seed: 7 });
});

test('config: every option round-trips through getConfig / fromConfig (and JSON)', () => {
  const cases = [
    [ScheduleFreeAdamW, { learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, warmupSteps: 7, weightDecay: 0.01, clipnorm: 1 }],
    [ScheduleFreeSGD, { learningRate: 0.5, beta1: 0.95, warmupSteps: 3, weightDecay: 0.001, weightLrPower: 1.5, globalClipnorm: 2 }],
  ];
  for (const [C, o] of cases) {
    const config = new C(o).getConfig();
    for (const [k, v] of Object.entries(o)) assert.is(config[k], v, `${C.className}.${k}`);
    assert.equal(C.fromConfig(JSON.parse(JSON.stringify(config))).getConfig(), config);
    assert.is(new C(o).weightDecay, o.weightDecay);
  }
});

// ---------------------------------------------------------------- the authorities' float32 op sequences

const f = Math.fround;

/** Keras 3.14's ScheduleFreeAdamW.update_step, one float32 op at a time (lr is the float32 rate). */
function kerasStep(y, z, v, g, lr, t, o) {
  const T = f(t);
  const rate = o.warmupSteps > 0 ? f(lr * Math.min(f(T / f(o.warmupSteps)), 1)) : lr;
  const b1 = f(o.beta1);
  const b2 = f(o.beta2);
  const bc2 = f(1 - f(Math.pow(b2, T)));
  const w = f(1 / T);
  for (let i = 0; i < y.length; i++) {
    const zOld = z[i];
    v[i] = f(v[i] + f(f(f(g[i] * g[i]) - v[i]) * f(1 - b2)));
    const den = f(f(Math.sqrt(f(v[i] / bc2))) + f(o.epsilon));
    z[i] = f(zOld - f(f(rate * g[i]) / den));
    const x = f(f(y[i] - f(f(1 - b1) * zOld)) / b1);
    const xNew = f(f(f(1 - w) * x) + f(w * z[i]));
    y[i] = f(f(f(1 - b1) * z[i]) + f(b1 * xNew));
  }
}

/** optax's schedule_free_sgd update + apply_updates, one float32 op at a time; `s` holds max_lr and weight_sum. */
function optaxStep(y, z, g, s, lr, t, o) {
  const W = o.warmupSteps ?? null;
  const warm = (c) => (W === null ? lr : f(f(-lr * f(1 - f(Math.min(c, W) / W))) + lr));
  const stepLr = warm(t - 1);
  s.maxLr = Math.max(s.maxLr, warm(t));
  const weight = f(Math.pow(s.maxLr, o.weightLrPower ?? 2));
  s.weightSum = f(s.weightSum + weight);
  const q = f(weight / s.weightSum);
  const ck = Number.isNaN(q) ? 0 : q;
  const b1 = f(o.beta1 ?? 0.9);
  const omb1 = f(1 - (o.beta1 ?? 0.9)); // a Python float in optax's update
  const wd = o.weightDecay ?? null;
  for (let i = 0; i < y.length; i++) {
    const u = wd === null ? g[i] : f(g[i] + f(f(wd) * y[i]));
    const zNew = f(z[i] - f(stepLr * u));
    const x = f(f(y[i] - f(omb1 * z[i])) / b1);
    const xNew = f(f(f(1 - ck) * x) + f(ck * zNew));
    const p = f(f(b1 * xNew) + f(omb1 * zNew));
    y[i] = f(y[i] + f(p - y[i]));
    z[i] = zNew;
  }
}

/** x as Keras' swap_to_eval and optax's schedule_free_eval_params compute it (float32 b1 in both). */
function evalStep(y, z, beta1) {
  const b1 = f(beta1);
  return Float32Array.from(y, (yi, i) => f(f(yi - f(f(1 - b1) * z[i])) / b1));
}

function sameBits(label, ours, expected) {
  assert.is(ours.length, expected.length, `${label}: length`);
  for (let i = 0; i < ours.length; i++) if (!Object.is(ours[i], expected[i])) assert.unreachable(`${label}[${i}]: ours ${ours[i]}, expected ${expected[i]}`);
}

const EXACT = [
  [ScheduleFreeAdamW, { learningRate: 0.01 }],
  [ScheduleFreeAdamW, { learningRate: 0.05, beta1: 0.8, beta2: 0.95, epsilon: 1e-3, warmupSteps: 4 }],
  [ScheduleFreeSGD, { learningRate: 0.1 }],
  [ScheduleFreeSGD, { learningRate: 0.3, beta1: 0.7, warmupSteps: 3, weightDecay: 0.05 }],
  [ScheduleFreeSGD, { learningRate: 0.2, weightLrPower: 0.5, warmupSteps: 5 }],
  [ScheduleFreeSGD, { learningRate: 0.2, weightLrPower: 1 }],
];

test('every step is the authority\'s float32 op sequence, bit for bit, SIMD and scalar (weights, slots, x)', () => {
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      for (const [C, o] of EXACT) {
        const r = rng(3);
        const n = 1023;
        const init = r.f32(n);
        const opt = new C(o);
        const v = new Variable(init, { name: 'w' });
        const y = Float32Array.from(init);
        const z = Float32Array.from(init);
        const m2 = new Float32Array(n);
        const s = { maxLr: 0, weightSum: 0 };
        const lr = f(o.learningRate);
        for (let t = 1; t <= 9; t++) {
          const g = r.f32(n, 0.5);
          opt.applyGradients([[g, v]]);
          if (C === ScheduleFreeAdamW) kerasStep(y, z, m2, g, lr, t, { ...new C().getConfig(), ...o });
          else optaxStep(y, z, g, s, lr, t, o);
        }
        const label = `${C.className} ${JSON.stringify(o)} simd=${simd}`;
        sameBits(`${label} y`, v.value, y);
        if (C === ScheduleFreeAdamW) {
          sameBits(`${label} momentum`, opt.getSlot(v, 'momentum').value, z);
          sameBits(`${label} velocity`, opt.getSlot(v, 'velocity').value, m2);
        } else {
          sameBits(`${label} z`, opt.getSlot(v, 'z').value, z);
          const st = opt.getState().variables;
          assert.is(st.max_lr.values[0], f(s.maxLr), `${label} max_lr`);
          assert.is(st.weight_sum.values[0], s.weightSum, `${label} weight_sum`);
        }
        opt.evalParams();
        sameBits(`${label} x`, v.value, evalStep(y, z, o.beta1 ?? 0.9));
        opt.dispose();
        v.dispose();
      }
    } finally {
      setSimdEnabled(true);
    }
  }
});

test('optax\'s documented examples (schedule_free_sgd(), schedule_free_adamw(1.0) on sum(x²) from [1, 2, 3]): the same printed objective at x, step by step', () => {
  // optax/contrib/_schedule_free.py docstrings print f(schedule_free_eval_params(...)) with '{:.2E}'.
  // 1.75E-14 is a float32 rounding residue: only the same float32 ops give it.
  const documented = {
    ScheduleFreeSGD: ['1.40E+01', '1.75E-14', '9.96E-01', '8.06E-01', '2.41E-01'],
    ScheduleFreeAdamW: ['5.00E+00', '3.05E+00', '1.73E+00', '8.94E-01', '4.13E-01'],
  };
  for (const [C, o] of [[ScheduleFreeSGD, {}], [ScheduleFreeAdamW, { learningRate: 1 }]]) {
    const opt = new C(o);
    const p = new Variable([1, 2, 3], { name: 'p' });
    const printed = [];
    for (let i = 0; i < 5; i++) {
      opt.applyGradients([[Float32Array.from(p.value, (x) => 2 * x), p]]);
      opt.evalParams();
      const [m, e] = p.value.reduce((a, x) => a + x * x, 0).toExponential(2).split('e');
      printed.push(`${m}E${e[0] === '-' ? '-' : '+'}${e.replace(/^[-+]/, '').padStart(2, '0')}`.toUpperCase());
      opt.trainParams();
    }
    assert.equal(printed, documented[C.className], C.className);
    opt.dispose();
    p.dispose();
  }
});

test('the float64 evaluation point agrees with ours within float32 rounding', () => {
  const opt = new ScheduleFreeSGD({ learningRate: 0.1 });
  const v = new Variable(rng(4).f32(17), { name: 'w' });
  for (let i = 0; i < 5; i++) opt.applyGradients([[rng(10 + i).f32(17), v]]);
  const y = Float64Array.from(v.value);
  const z = Float64Array.from(opt.getSlot(v, 'z').value);
  opt.evalParams();
  const x = evalPoint(y, z, 0.9);
  for (let i = 0; i < 17; i++) assert.ok(Math.abs(v.value[i] - x[i]) <= 1e-6 * (1 + Math.abs(x[i])), `x[${i}]`);
});

// ---------------------------------------------------------------- evalParams / trainParams

function trained(C, options = {}, steps = 4) {
  const opt = new C({ learningRate: 0.1, ...options });
  const a = new Variable(rng(5).f32(17), { name: 'a' });
  const b = new Variable(rng(6).f32(6), { name: 'b', shape: [3, 2] });
  for (let i = 0; i < steps; i++) opt.applyGradients([[rng(20 + i).f32(17), a], [rng(40 + i).f32(6), b]]);
  return { opt, a, b };
}

for (const C of [ScheduleFreeAdamW, ScheduleFreeSGD]) {
  const zName = C === ScheduleFreeAdamW ? 'momentum' : 'z';

  test(`${C.className}: evalParams writes x, is idempotent, and trainParams restores y bit for bit`, () => {
    const { opt, a, b } = trained(C);
    const y = [a.value.slice(), b.value.slice()];
    const x = [evalStep(a.value, opt.getSlot(a, zName).value, 0.9), evalStep(b.value, opt.getSlot(b, zName).value, 0.9)];
    assert.not.ok(opt.holdsEvalParams);
    opt.evalParams();
    assert.ok(opt.holdsEvalParams);
    sameBits('a holds x', a.value, x[0]);
    sameBits('b holds x', b.value, x[1]);
    opt.evalParams(); // a second call changes nothing
    sameBits('a after a second evalParams', a.value, x[0]);
    opt.trainParams();
    assert.not.ok(opt.holdsEvalParams);
    sameBits('a holds y again', a.value, y[0]);
    sameBits('b holds y again', b.value, y[1]);
    opt.trainParams(); // idempotent too
    sameBits('a after a second trainParams', a.value, y[0]);
    // A subset, and a variable the optimizer never built (its x is its y: left alone).
    const other = new Variable([1, 2, 3], { name: 'other' });
    opt.evalParams([b, other, b]);
    sameBits('a untouched', a.value, y[0]);
    sameBits('b holds x', b.value, x[1]);
    assert.equal(Array.from(other.value), [1, 2, 3]);
    opt.trainParams([a]); // a holds y: nothing to do
    assert.ok(opt.holdsEvalParams, 'b still holds x');
    opt.trainParams([b]);
    sameBits('b restored', b.value, y[1]);
    assert.not.ok(opt.holdsEvalParams);
    for (const x of [opt, a, b, other]) x.dispose();
  });

  test(`${C.className}: while the variables hold x, a step and a checkpoint throw and change nothing; after trainParams the run continues as if never swapped`, () => {
    const ref = trained(C, {}, 6);
    const { opt, a, b } = trained(C, {}, 3);
    opt.evalParams([a]);
    const before = [a.value.slice(), b.value.slice(), opt.iterations];
    const bytes = ref.opt.saveState();
    const msg = `${C.className}.applyGradients: 1 variable(s) hold the evaluation point x ('a') since evalParams(); call trainParams() first`;
    assert.throws(() => opt.applyGradients([[rng(0).f32(6), b]]), (e) => e instanceof Error && e.message === msg);
    assert.throws(() => opt.saveState(), /ScheduleFree\w+\.getState: 1 variable\(s\) hold the evaluation point x .*call trainParams\(\) first/);
    assert.throws(() => opt.getState(), /getState: .*call trainParams\(\) first/);
    assert.throws(() => opt.loadState(bytes), /setState: .*call trainParams\(\) first/);
    assert.throws(() => opt.setState(ref.opt.getState()), /setState: .*call trainParams\(\) first/);
    sameBits('a unchanged (x)', a.value, before[0]);
    sameBits('b unchanged', b.value, before[1]);
    assert.is(opt.iterations, before[2]);
    opt.trainParams();
    for (let i = 3; i < 6; i++) opt.applyGradients([[rng(20 + i).f32(17), a], [rng(40 + i).f32(6), b]]);
    sameBits('a continues exactly', a.value, ref.a.value);
    sameBits('b continues exactly', b.value, ref.b.value);
    const s1 = opt.getState();
    const s2 = ref.opt.getState();
    for (const k of Object.keys(s2.variables)) sameBits(k, s1.variables[k].values, s2.variables[k].values);
    for (const x of [opt, a, b, ref.opt, ref.a, ref.b]) x.dispose();
  });

  test(`${C.className}: evalParams / trainParams refuse bad arguments and a disposed optimizer`, () => {
    const { opt, a, b } = trained(C, {}, 1);
    assert.throws(() => opt.evalParams('a'), /evalParams: variables must be an array of Variables \(or omitted for all\)/);
    assert.throws(() => opt.evalParams([a, {}]), /evalParams: variables\[1\] must be a Variable/);
    assert.throws(() => opt.trainParams([null]), /trainParams: variables\[0\] must be a Variable/);
    const gone = new Variable([1], { name: 'gone' });
    gone.dispose();
    assert.throws(() => opt.evalParams([gone]), /variables\[0\]: variable 'gone' was disposed/);
    sameBits('nothing changed', a.value, trained(C, {}, 1).a.value);
    // A variable disposed while it holds x no longer blocks the step.
    opt.evalParams([b]);
    b.dispose();
    opt.applyGradients([[rng(1).f32(17), a]]);
    opt.dispose();
    assert.throws(() => opt.evalParams(), /evalParams: the optimizer was disposed/);
    assert.throws(() => opt.trainParams(), /trainParams: the optimizer was disposed/);
    a.dispose();
  });

  test(`${C.className}: saveState / fromCheckpoint / loadState continue bit for bit (weights and every slot)`, () => {
    const ref = trained(C, { warmupSteps: 3, weightDecay: 0.01 }, 7);
    const first = trained(C, { warmupSteps: 3, weightDecay: 0.01 }, 4);
    const bytes = first.opt.saveState();
    const restored = Optimizer.fromCheckpoint(bytes, [first.a, first.b]);
    const again = new C({ learningRate: 0.1, warmupSteps: 3, weightDecay: 0.01 });
    again.loadState(bytes, [first.a, first.b]);
    assert.equal(Object.keys(first.opt.getState().variables).sort(), Object.keys(ref.opt.getState().variables).sort());
    for (const [opt, label] of [[restored, 'fromCheckpoint'], [again, 'loadState']]) {
      const a = new Variable(first.a.value, { name: 'a' });
      const b = new Variable(first.b.value, { name: 'b', shape: [3, 2] });
      opt.dispose();
      const o2 = label === 'fromCheckpoint' ? Optimizer.fromCheckpoint(bytes, [a, b]) : new C({ learningRate: 0.1, warmupSteps: 3, weightDecay: 0.01 });
      if (label === 'loadState') o2.loadState(bytes, [a, b]);
      for (let i = 4; i < 7; i++) o2.applyGradients([[rng(20 + i).f32(17), a], [rng(40 + i).f32(6), b]]);
      sameBits(`${label} a`, a.value, ref.a.value);
      sameBits(`${label} b`, b.value, ref.b.value);
      const s1 = o2.getState();
      const s2 = ref.opt.getState();
      for (const k of Object.keys(s2.variables)) sameBits(`${label} ${k}`, s1.variables[k].values, s2.variables[k].values);
      for (const x of [o2, a, b]) x.dispose();
    }
    for (const x of [ref.opt, ref.a, ref.b, first.opt, first.a, first.b]) x.dispose();
  });

  test(`${C.className}: a sparse gradient is densified (the same bits as its dense form); untouched rows still move (x and y are averaged)`, () => {
    const make = () => new Variable(rng(8).f32(12), { name: 't', shape: [4, 3] });
    const sparse = { indices: Int32Array.from([2, 0, 2]), values: rng(9).f32(9) };
    const dense = new Float32Array(12);
    sparse.indices.forEach((r, k) => {
      for (let j = 0; j < 3; j++) dense[r * 3 + j] += sparse.values[k * 3 + j];
    });
    const o1 = new C({ learningRate: 0.1 });
    const o2 = new C({ learningRate: 0.1 });
    const v1 = make();
    const v2 = make();
    for (let i = 0; i < 3; i++) {
      o1.applyGradients([[{ indices: sparse.indices.slice(), values: sparse.values.slice() }, v1]]);
      o2.applyGradients([[dense.slice(), v2]]);
    }
    sameBits('weights', v1.value, v2.value);
    sameBits('z', o1.getSlot(v1, zName).value, o2.getSlot(v2, zName).value);
    for (const x of [o1, o2, v1, v2]) x.dispose();
  });
}

test('docs/schedule-free.md: the tested example runs verbatim and prints what it says', async () => {
  const md = readFileSync(repoFile('docs', 'schedule-free.md'), 'utf8');
  const m = md.match(/<!-- tested-example -->\s*```ts\n([\s\S]*?)```/);
  assert.ok(m, 'the marked example exists');
  const logs = [];
  const orig = console.log;
  console.log = (...x) => logs.push(x);
  try {
    await importTs(m[1], 'schedule-free-example');
  } finally {
    console.log = orig;
  }
  assert.equal(logs, [[true]]);
});

test('ScheduleFreeSGD: weightDecay is optax\'s (wd * y added to the gradient), not the base class\'s decoupled decay; excludeFromWeightDecay applies', () => {
  const init = rng(11).f32(5);
  const g = rng(12).f32(5);
  const run = (o, exclude) => {
    const opt = new ScheduleFreeSGD({ learningRate: 0.1, ...o });
    const v = new Variable(init, { name: 'w' });
    if (exclude) opt.excludeFromWeightDecay({ names: ['w'] });
    opt.applyGradients([[g.slice(), v]]);
    const out = { y: v.value.slice(), z: opt.getSlot(v, 'z').value.slice() };
    opt.dispose();
    v.dispose();
    return out;
  };
  const decayed = run({ weightDecay: 0.5 });
  const z = Float32Array.from(init, (w, i) => f(w - f(0.1 * f(g[i] + f(0.5 * w)))));
  sameBits('z', decayed.z, z);
  const plain = run({});
  sameBits('excluded = no decay', run({ weightDecay: 0.5 }, true).y, plain.y);
});

test('a steady-state step allocates nothing (no garbage collection in 200,000 steps, fresh process)', () => {
  const code = `
    import { PerformanceObserver } from 'node:perf_hooks';
    import { ready, Variable, ScheduleFreeAdamW, ScheduleFreeSGD } from ${JSON.stringify(new URL('../build/index.js', import.meta.url).href)};
    await ready();
    const out = [];
    for (const make of [() => new ScheduleFreeAdamW({ warmupSteps: 10, weightDecay: 0.01 }), () => new ScheduleFreeSGD({ warmupSteps: 10, weightDecay: 0.01, weightLrPower: 1.5 })]) {
      const opt = make();
      const w = Variable.zeros([250, 4], { name: 'w' });
      const gv = Variable.zeros([1000], { name: 'g' });
      gv.value.fill(0.01);
      opt.prepare([w]);
      const pairs = [[gv.value, w]];
      for (let i = 0; i < 20000; i++) opt.applyGradients(pairs);
      let collections = 0;
      const obs = new PerformanceObserver((list) => { collections += list.getEntries().length; });
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 10));
      // The forced collection frees the first optimizer, and code optimized with its (now dead)
      // maps is discarded: the steps right after it run unoptimized, and box numbers, until
      // recompiled (a 1 MB burst in the first ~20 ms on a loaded machine). Warm up again first.
      for (let i = 0; i < 5000; i++) opt.applyGradients(pairs);
      obs.observe({ entryTypes: ['gc'] });
      for (let i = 0; i < 200000; i++) opt.applyGradients(pairs);
      await new Promise((r) => setTimeout(r, 10));
      obs.disconnect();
      out.push([opt.getClassName(), collections]);
    }
    console.log(JSON.stringify(out));`;
  // V8's tiering is timing-dependent (a concurrent recompilation landing mid-run on a loaded machine
  // can leave a call out of line for a while): the best of up to three fresh processes must show no
  // collection. A step that allocates shows collections in every process.
  let got;
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    got = JSON.parse(r.stdout.trim());
    if (got.every(([, collections]) => collections === 0)) break;
  }
  assert.equal(got, [['ScheduleFreeAdamW', 0], ['ScheduleFreeSGD', 0]]);
});

// ---------------------------------------------------------------- model.fit (tfjs) with callbacks.scheduleFree

/** Weights of a model as Float32Arrays. */
const weightsOf = (model) => model.getWeights().map((t) => t.dataSync().slice());

for (const backend of ['cpu', 'wasm']) {
  for (const [factory, zName] of [['scheduleFreeAdamW', 'momentum'], ['scheduleFreeSGD', 'z']]) {
    test(`${backend}: ${factory} in model.fit with callbacks.scheduleFree: x at each epoch's end and after fit, y for every step (training unchanged bit for bit)`, async () => {
      await quietly(() => tf.setBackend(backend));
      const options = { learningRate: 0.05 };
      // Without the callback: the plain training run.
      const plain = net();
      const optP = optim[factory](options);
      plain.compile({ optimizer: optP, loss: 'meanSquaredError' });
      const ys = [];
      const zs = [];
      const zOf = () => {
        const state = optP.core.getState().variables;
        return plain.trainableWeights.map((w) => state[`${w.read().name}/${zName}`].values.slice());
      };
      const plainRun = await fit(plain, optP, [{ onEpochEnd: () => (ys.push(weightsOf(plain)), zs.push(zOf())) }], { epochs: 3 });
      // With it: the later callback sees x at each epoch's end.
      const model = net();
      const opt = optim[factory](options);
      model.compile({ optimizer: opt, loss: 'meanSquaredError' });
      const sf = optim.callbacks.scheduleFree(opt);
      const seen = [];
      // Counts the swaps: a batch that starts at y does none (it reads and writes nothing).
      const swaps = [];
      for (const m of ['evalParams', 'trainParams']) {
        const f0 = opt.core[m].bind(opt.core);
        opt.core[m] = (...a) => (swaps.push(m), f0(...a));
      }
      const { history } = await fit(model, opt, [sf, { onEpochEnd: () => seen.push(weightsOf(model)) }], { epochs: 3 });
      // 2 batches an epoch: x after each epoch's last step (validation), y again at the next epoch's start.
      assert.equal(swaps, ['evalParams', 'trainParams', 'evalParams', 'trainParams', 'evalParams']);
      for (const m of ['evalParams', 'trainParams']) delete opt.core[m];
      assert.ok(opt.core.holdsEvalParams, 'after fit the model holds x');
      seen.forEach((w, e) => w.forEach((x, k) => sameBits(`epoch ${e} weight ${k} is x`, x, evalStep(ys[e][k], zs[e][k], 0.9))));
      // fit's own validation ran at x: val_loss is the loss of a model holding x, not the plain run's (at y).
      const [vx, vy] = data(2, 16);
      const probe = net();
      probe.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      seen.forEach((w, e) => {
        probe.setWeights(w.map((x, k) => tf.tensor(x, probe.getWeights()[k].shape)));
        const loss = probe.evaluate(vx, vy, { batchSize: 16 }).dataSync()[0];
        assert.ok(Math.abs(history.val_loss[e] - loss) <= 1e-6 * loss, `epoch ${e}: val_loss ${history.val_loss[e]} is the loss at x ${loss}`);
        assert.ok(Math.abs(plainRun.history.val_loss[e] - loss) > 1e-6 * loss, `epoch ${e}: the plain run's val_loss (at y) differs`);
      });
      tf.dispose([vx, vy]);
      probe.dispose();
      sameBits('after fit: x', weightsOf(model)[0], seen[2][0]);
      // Back to y: the same bits as the run that never swapped.
      sf.trainParams();
      sf.trainParams();
      weightsOf(model).forEach((w, k) => sameBits(`y ${k}`, w, ys[2][k]));
      assert.is(history.loss.length, 3);
      // A checkpoint at x is refused (model.save with the optimizer reads its weights).
      sf.evalParams();
      let saveError = null;
      await opt.getWeights().catch((e) => (saveError = e));
      assert.match(saveError?.message ?? '', /getState: .*hold the evaluation point x .*call trainParams\(\) first/);
      // A step at x is refused (fit without the callback after evalParams).
      const [bx, by] = [tf.ones([4, 3]), tf.ones([4, 1])];
      let err = null;
      try {
        await model.fit(bx, by, { epochs: 1, verbose: 0 });
      } catch (e) {
        err = e;
      }
      assert.match(err?.message ?? '', /hold the evaluation point x .*call trainParams\(\) first/);
      // With the callback, fit swaps back before its first step.
      await model.fit(bx, by, { epochs: 1, verbose: 0, callbacks: [sf] });
      assert.ok(opt.core.holdsEvalParams);
      tf.dispose([bx, by]);
      for (const x of [plain, model]) x.dispose();
      for (const x of [optP, opt]) x.dispose();
    });
  }
}

test('cpu: callbacks.scheduleFree after a tf.callbacks instance (unwrapped: tfjs-layers calls its setParams and setModel): validation at x; another model\'s optimizer is refused', async () => {
  await quietly(() => tf.setBackend('cpu'));
  const model = net();
  const opt = optim.scheduleFreeSGD({ learningRate: 0.05 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const sf = optim.callbacks.scheduleFree(opt);
  const { history } = await fit(model, opt, [tfl.callbacks.earlyStopping({ monitor: 'val_loss', patience: 100 }), sf], { epochs: 2 });
  assert.equal(sf.params?.doValidation, true, 'tfjs-layers gave it the params');
  const [vx, vy] = data(2, 16);
  const loss = model.evaluate(vx, vy, { batchSize: 16 }).dataSync()[0]; // after fit: at x of the last epoch
  assert.ok(Math.abs(history.val_loss[1] - loss) <= 1e-6 * loss, `val_loss ${history.val_loss[1]} vs the loss at x ${loss}`);
  const other = net();
  const otherOpt = optim.scheduleFreeSGD();
  other.compile({ optimizer: otherOpt, loss: 'meanSquaredError' });
  let err = null;
  await other.fit(vx, vy, { epochs: 1, verbose: 0, callbacks: [tfl.callbacks.earlyStopping({ patience: 9 }), sf] }).catch((e) => (err = e));
  assert.match(err?.message ?? '', /callbacks\.scheduleFree: the model trains with .*, not with the optimizer this callback was made for/);
  tf.dispose([vx, vy]);
  for (const x of [model, other, opt, otherOpt]) x.dispose();
});

test('callbacks.scheduleFree refuses an optimizer that is not schedule-free; it is in optim.callbacks and train has the factories', () => {
  assert.throws(() => optim.callbacks.scheduleFree(optim.adam()), /callbacks\.scheduleFree: optimizer must be a wasm-optim\/tfjs schedule-free optimizer .*got a Adam optimizer/);
  assert.throws(() => optim.callbacks.scheduleFree({}), /got an object/);
  assert.is(optim.callbacks.scheduleFree, optim.scheduleFree);
  assert.is(optim.train.scheduleFreeAdamW, optim.scheduleFreeAdamW);
  assert.is(optim.train.scheduleFreeSGD, optim.scheduleFreeSGD);
  assert.ok(optim.scheduleFreeSGD({ learningRate: 0.5 }).core instanceof ScheduleFreeSGD);
});

test.run();
