// AdEMAMix with 8-bit state (stateDtype: 'int8', docs/int8-state.md): m1 (signed, to nearest),
// m2 (signed, stochastic: a slow EMA) and nu (unsigned, stochastic) against the float64 model of
// the quantized update (test/reference/quantize.mjs with test/reference/ademamix.mjs), SIMD =
// scalar, every base option with save/restore/continue, checkpoints, memory per parameter, a
// training run against float32, and no allocation per step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pathToFileURL } from 'node:url';
import * as lib from '../build/index.js';
import * as R from './reference/quantize.mjs';
import { ademamix } from './reference/ademamix.mjs';
import { rng } from './helpers/random.mjs';
import { noisyQuadratic } from './helpers/noisy-quadratic.mjs';
import { repoFile } from './helpers/load-ts.mjs';
import { baseCombos } from './helpers/conformance.mjs';
import { assertNoCollections, assertResumes, stateBytesPerParam } from './helpers/int8-checks.mjs';

const { ready, Variable, Optimizer, AdEMAMix, QuantizedSlot, Arena, LinearSchedule, setSimdEnabled, deserialize } = lib;
await ready();

const SLOTS = { m1: 'signed', m2: 'signed', nu: 'unsigned' };
const STOCHASTIC = ['m2', 'nu'];
// 4,396 = 17 blocks + 44 (a partial block whose tail is not a multiple of 16); 61 x 83 = 5,063 =
// 19 blocks + 199 (tail 7 after the last group of 16).
const SHAPES = [[4396], [61, 83]];
const sizeOf = (shape) => shape.reduce((a, b) => a * b, 1);

/** The paper's beta3 warmup (Pagliardini et al., appendix) as a function of the update count. */
const beta3Warmup = (start, end, warmup) => (step) => {
  if (step >= warmup) return end;
  const f = (b) => Math.log(0.5) / Math.log(b) - 1;
  const a = step / warmup;
  return 0.5 ** (1 / ((1 - a) * f(start) + a * f(end) + 1));
};

/** The reference with optax's decay on every variable (int8Step passes no variable record). */
const REF = { update: (g, w, s, lr, t, o) => ademamix.update(g, w, s, lr, t, o, null, null, { noDecay: false }) };

/** Own-option sets the model runs: the defaults, every option off its default, the paper's warmups. */
const OWN = [
  { learningRate: 0.01 },
  { learningRate: 0.003, beta1: 0.8, beta2: 0.99, beta3: 0.99, alpha: 2, epsilon: 1e-6, epsRoot: 1e-8, weightDecay: 0.02 },
  { learningRate: 0.01, alpha: new LinearSchedule({ initialValue: 0, endValue: 5, transitionSteps: 4 }), beta3: beta3Warmup(0.9, 0.9999, 4) },
];

test('the option: validated, readonly field, getConfig/fromConfig; m1 and m2 signed and nu unsigned 8-bit slots from 4,096 elements, float32 below', () => {
  assert.is(new AdEMAMix().stateDtype, 'float32');
  assert.is(new AdEMAMix().getConfig().stateDtype, 'float32');
  assert.ok(AdEMAMix.optionNames.includes('stateDtype'));
  assert.throws(() => new AdEMAMix({ stateDtype: 'int4' }), (e) => e instanceof TypeError && /AdEMAMix: stateDtype must be 'float32' or 'int8', got the string 'int4'/.test(e.message));
  assert.throws(() => new AdEMAMix({ stateDtype: 8 }), /stateDtype must be 'float32' or 'int8', got 8/);
  assert.throws(() => new AdEMAMix({ state_dtype: 'int8' }), /did you mean stateDtype/);
  const w = new Variable(rng(1).f32(4096), { name: 'w' });
  const below = new Variable(rng(2).f32(4095), { name: 'below' });
  const opt = new AdEMAMix({ stateDtype: 'int8' });
  assert.is(opt.stateDtype, 'int8');
  opt.applyGradients([[rng(3).f32(4096, 0.01), w], [rng(4).f32(4095, 0.01), below]]);
  for (const [name, kind] of Object.entries(SLOTS)) {
    const slot = opt.getSlot(w, name);
    assert.ok(slot instanceof QuantizedSlot, `${name} is 8-bit at 4,096 elements`);
    assert.is(slot.kind, kind, name);
    assert.is(slot.rowSize, 4096, `${name}: one segment (the variable)`);
    assert.not.ok(opt.getSlot(below, name) instanceof QuantizedSlot, `${name} is float32 at 4,095 elements`);
    // .value: a dequantized float32 copy; writing to it changes nothing; assign is refused.
    const q = opt.getState().variables[`w/${name}`].quantized;
    assert.is(q.kind, kind);
    const copy = slot.value;
    assert.instance(copy, Float32Array);
    assert.equal([...copy], [...R.dequantize(q)].map(Math.fround), `${name}: value = dequantized codes`);
    copy.fill(7);
    assert.equal([...slot.value], [...R.dequantize(q)].map(Math.fround), `${name}: writing to the copy changed the slot`);
    assert.throws(() => slot.assign(new Float32Array(4096)), /cannot be assigned/);
  }
  const config = opt.getConfig();
  assert.is(config.stateDtype, 'int8');
  assert.is(AdEMAMix.fromConfig(config).stateDtype, 'int8');
  assert.is(deserialize({ className: 'AdEMAMix', config: JSON.parse(JSON.stringify(config)) }).stateDtype, 'int8');
  opt.dispose();
  w.dispose();
  below.dispose();
});

test('the quantized trajectory matches the float64 model step by step: weights, absmax, codes wherever the float math determines them', () => {
  for (const own of OWN) {
    const o = { ...ademamix.defaults, ...own };
    const vars = SHAPES.map((shape, k) => new Variable(rng(10 + k).f32(sizeOf(shape)), { name: `v${k}`, shape }));
    const opt = new AdEMAMix({ ...own, stateDtype: 'int8' });
    const r = rng(20);
    let checked = 0;
    let total = 0;
    for (let t = 1; t <= 8; t++) {
      opt.prepare(vars);
      const before = opt.getState().variables;
      const gs = vars.map((v) => r.f32(v.size, 0.05));
      const w0 = vars.map((v) => Float64Array.from(v.value));
      opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
      const got = opt.getState().variables;
      vars.forEach((v, k) => {
        const slots = Object.fromEntries(Object.keys(SLOTS).map((s) => [s, before[`${v.name}/${s}`].quantized]));
        const model = R.int8Step(REF, o, w0[k], gs[k], slots, o.learningRate, t, STOCHASTIC);
        const label = `${JSON.stringify(own)} ${v.name} step ${t}`;
        for (let i = 0; i < v.size; i++) assert.ok(Math.abs(v.value[i] - w0[k][i]) <= 2e-5 * Math.abs(w0[k][i]) + 1e-6, `${label}: weight ${i}: ${v.value[i]} vs ${w0[k][i]}`);
        for (const [s, q] of Object.entries(model.slots)) {
          const mine = got[`${v.name}/${s}`].quantized;
          assert.is(mine.kind, SLOTS[s]);
          for (let i = 0; i < q.absmax.length; i++) assert.ok(Math.abs(mine.absmax[i] - q.absmax[i]) <= 1e-5 * q.absmax[i], `${label}: ${s} absmax ${i}: ${mine.absmax[i]} vs ${q.absmax[i]}`);
          const stable = R.stableCodes(model.floats[s], q, STOCHASTIC.includes(s) ? R.roundingSeed(t) : null);
          for (let i = 0; i < v.size; i++) {
            total++;
            if (!stable[i]) continue;
            checked++;
            assert.is(mine.codes[i], q.codes[i], `${label}: ${s} code ${i}`);
          }
        }
      });
    }
    assert.ok(checked > 0.99 * total, `${JSON.stringify(own)}: only ${checked} of ${total} codes are determined`);
    opt.dispose();
    for (const v of vars) v.dispose();
  }
});

/** Every number a run ends with: weights and, per state entry, its codes and absmax (or values). */
function snapshot(opt, vars) {
  const s = Object.entries(opt.getState().variables).map(([k, e]) => [k, e.quantized ? [e.quantized.kind, e.quantized.rowSize, ...e.quantized.codes, ...e.quantized.absmax] : [...e.values]]);
  return { w: vars.map((v) => [...v.value]), s: JSON.stringify(s), iterations: opt.iterations };
}

/**
 * `steps` steps of `make()` on a 4,396-element vector, a 61 x 83 table (sparse gradients every other
 * step) and a 10-element bias (float32 slots), the vector's gradient null every fourth step; with
 * `resumeAt`, saved there (saveState) and restored into a fresh optimizer and fresh variables.
 */
function run(make, { simd = true, steps = 7, resumeAt = -1 } = {}) {
  setSimdEnabled(simd);
  try {
    const shapes = [...SHAPES, [10]];
    let vars = shapes.map((shape, k) => new Variable(rng(40 + k).f32(sizeOf(shape)), { name: `v${k}`, shape }));
    let opt = make();
    const r = rng(50);
    for (let t = 0; t < steps; t++) {
      if (t === resumeAt) {
        const bytes = opt.saveState();
        const fresh = vars.map((v) => new Variable(v.value, { name: v.name, shape: v.shape }));
        opt.dispose();
        for (const v of vars) v.dispose();
        vars = fresh;
        opt = Optimizer.fromCheckpoint(bytes, vars);
      }
      const gs = [
        t % 4 === 3 ? null : r.f32(4396, 0.03),
        t % 2 ? { indices: Int32Array.from([60, 2, 17, 2]), values: r.f32(4 * 83, 0.03) } : r.f32(61 * 83, 0.03),
        r.f32(10, 0.03),
      ];
      opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
    }
    const out = snapshot(opt, vars);
    opt.dispose();
    for (const v of vars) v.dispose();
    return out;
  } finally {
    setSimdEnabled(true);
  }
}

test('SIMD and scalar give the same bits, and save/restore/continue gives the uninterrupted run: every base-option combination, with the own options', () => {
  const owns = [{}, { alpha: 2, beta3: 0.99, epsRoot: 1e-8, weightDecay: 0.02 }];
  let runs = 0;
  for (const own of owns) {
    for (const base of baseCombos()) {
      const options = { learningRate: 0.01, ...base, ...own, stateDtype: 'int8' };
      const label = JSON.stringify(options);
      const make = () => new AdEMAMix(options);
      const simd = run(make);
      const scalar = run(make, { simd: false });
      const resumed = run(make, { resumeAt: 4 });
      assert.equal(scalar.w, simd.w, `${label}: SIMD = scalar weights`);
      assert.is(scalar.s, simd.s, `${label}: SIMD = scalar state`);
      assert.equal(resumed.w, simd.w, `${label}: resumed weights`);
      assert.is(resumed.s, simd.s, `${label}: resumed state`);
      assert.is(resumed.iterations, simd.iterations, `${label}: iterations`);
      runs++;
    }
  }
  assert.is(runs, 2 * 128);
});

test('SIMD = scalar with the paper\'s warmups and a variable excluded from weight decay', () => {
  const make = () => {
    const opt = new AdEMAMix({ learningRate: 0.01, weightDecay: 0.05, stateDtype: 'int8', alpha: new LinearSchedule({ initialValue: 0, endValue: 5, transitionSteps: 6 }), beta3: beta3Warmup(0.9, 0.9999, 6) });
    opt.excludeFromWeightDecay({ names: ['v1'] });
    return opt;
  };
  const simd = run(make, { steps: 12 });
  const scalar = run(make, { simd: false, steps: 12 });
  assert.equal(scalar.w, simd.w);
  assert.is(scalar.s, simd.s);
});

test('checkpoints hold the exact 8-bit state: saveState/loadState (bytes, deferred) and getState/setState, then continue = the uninterrupted run', () => {
  for (const how of ['bytes', 'deferred', 'state']) {
    const { state } = assertResumes(() => new AdEMAMix({ learningRate: 0.01, weightDecay: 0.01, stateDtype: 'int8' }), how, { seed: 60, gradSeed: 70 });
    assert.equal(Object.keys(state), ['w/m1', 'w/m2', 'w/nu']);
  }
});

test('a float32 state loads into an int8 AdEMAMix (quantized to nearest) and an int8 state into a float32 one (dequantized); the 8-bit checkpoint is about a quarter of the float32 one', () => {
  const w = new Variable(rng(80).f32(100000), { name: 'w' });
  const f = new AdEMAMix();
  const q = new AdEMAMix({ stateDtype: 'int8' });
  for (let t = 0; t < 3; t++) {
    const g = rng(81 + t).f32(100000, 0.01);
    f.applyGradients([[g, w]]);
    q.applyGradients([[g, w]]);
  }
  const fb = f.saveState();
  const qb = q.saveState();
  assert.ok(qb.length < 0.27 * fb.length, `${qb.length} bytes vs ${fb.length}`);
  assert.is(new DataView(qb.buffer, qb.byteOffset).getUint16(4, true), 2);
  const f2 = new AdEMAMix();
  f2.loadState(qb, [w]);
  const q2 = new AdEMAMix({ stateDtype: 'int8' });
  q2.loadState(fb, [w]);
  for (const [name, kind] of Object.entries(SLOTS)) {
    assert.equal(f2.getState().variables[`w/${name}`].values, q.getState().variables[`w/${name}`].values, `${name}: dequantized into float32`);
    assert.equal(q2.getState().variables[`w/${name}`].quantized, R.quantize(f.getState().variables[`w/${name}`].values, kind), `${name}: quantized to nearest`);
  }
  assert.is(f2.iterations, 3);
  assert.is(q2.iterations, 3);
  for (const o of [f, q, f2, q2]) o.dispose();
  w.dispose();
});

test('a failed step leaves the 8-bit state, the weights and the arena untouched', () => {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const heap = new Arena(memory, lib.instantiateKernels(lib.kernelModule(), memory));
  const w = new Variable(rng(90).f32(5000), { name: 'w' }, heap);
  const u = new Variable(rng(91).f32(5000), { name: 'u' }, heap);
  const opt = new AdEMAMix({ stateDtype: 'int8' });
  opt.applyGradients([[rng(92).f32(5000, 0.01), w]]);
  const s0 = opt.getState().variables;
  const w0 = w.value.slice();
  const live = heap.liveBytes;
  assert.throws(() => opt.applyGradients([[rng(93).f32(5000, 0.01), w], [new Float32Array(3), u]]), /3 values, expected 5000/);
  assert.is(heap.liveBytes, live);
  assert.equal(w.value, w0);
  const s1 = opt.getState().variables;
  assert.equal(Object.keys(s1), Object.keys(s0));
  for (const k of Object.keys(s0)) assert.equal(s1[k].quantized, s0[k].quantized, k);
  assert.is(opt.iterations, 1);
  opt.dispose();
});

test('memory: about 3 x 1.016 bytes of state per parameter at 1e6 (float32: 12), measured from the arena', () => {
  const perParam = stateBytesPerParam(AdEMAMix);
  const n = 1_000_000;
  // 3 slots x (1 byte + 4 bytes per 256) + 3 x 1 KB of scratch.
  const expected = 3 * (1 + 4 / 256) + (3 * 1024) / n;
  assert.ok(Math.abs(perParam.int8 - expected) < 1e-3, `int8: ${perParam.int8} bytes per parameter, expected ${expected}`);
  assert.ok(Math.abs(perParam.float32 - 12) < 0.01, `float32: ${perParam.float32}`);
  console.log(`  AdEMAMix state bytes per parameter at 1e6: float32 ${perParam.float32.toFixed(4)}, int8 ${perParam.int8.toFixed(4)}`);
});

test('the pipeline suite\'s int8 shapes ([300, 17], [260, 20]) give AdEMAMix 8-bit slots', () => {
  for (const shape of [[300, 17], [260, 20]]) {
    const v = new Variable(new Float32Array(sizeOf(shape)), { shape, name: 'big' });
    const opt = new AdEMAMix({ stateDtype: 'int8' });
    opt.prepare([v]);
    for (const name of Object.keys(SLOTS)) assert.ok(opt.getSlot(v, name) instanceof QuantizedSlot, `${shape} ${name}`);
    opt.dispose();
    v.dispose();
  }
});

test('training: 8-bit AdEMAMix on a noisy quadratic (the paper\'s warmups) stays within 1.25x of float32 AdEMAMix\'s noise-floor loss, no NaN', () => {
  // The slow EMA m2 is rounded stochastically: its rounding noise (3 mantissa bits) raises the noise
  // floor somewhat (measured 1.11x here); rounded to nearest it sticks to its code, which measured
  // up to 3x worse on a drifting target (docs/int8-state.md).
  const P = noisyQuadratic(100);
  const train = (dtype) => {
    let tail = 0;
    let count = 0;
    const make = () => new AdEMAMix({ learningRate: 0.003, stateDtype: dtype, alpha: new LinearSchedule({ initialValue: 0, endValue: 5, transitionSteps: 2000 }), beta3: beta3Warmup(0.9, 0.999, 2000) });
    P.train(dtype, make, 6000, (t) => t >= 2000 && t % 25 === 0, (t, l) => {
      tail += l;
      count++;
    });
    return tail / count;
  };
  const f = train('float32');
  const q = train('int8');
  console.log(`  mean loss over steps 2,000-6,000: float32 ${f.toExponential(3)}, int8 ${q.toExponential(3)} (${(q / f).toFixed(3)}x; start ${P.initial.toExponential(3)})`);
  assert.ok(q < 1.25 * f, `int8 ${q} vs float32 ${f}`);
  assert.ok(q < 0.01 * P.initial, 'int8 training converged');
});

// A fresh process with a 1 MiB young generation (test/helpers/alloc-probe.mjs's method): zero
// collections in STEPS steps means fewer than 1 MiB / STEPS bytes allocated per step.
const PROBE = `
import { PerformanceObserver } from 'node:perf_hooks';
const { ready, Variable, AdEMAMix, LinearSchedule } = await import(${JSON.stringify(pathToFileURL(repoFile('build', 'index.js')).href)});
await ready();
const STEPS = 20000;
const configs = [
  ['AdEMAMix int8', () => new AdEMAMix({ stateDtype: 'int8' })],
  ['AdEMAMix int8, weight decay, globalClipnorm, EMA', () => new AdEMAMix({ stateDtype: 'int8', weightDecay: 0.01, globalClipnorm: 1, useEma: true })],
  ['AdEMAMix int8, scheduled alpha', () => new AdEMAMix({ stateDtype: 'int8', alpha: new LinearSchedule({ initialValue: 0, endValue: 5, transitionSteps: 1e6 }) })],
  ['AdEMAMix float32', () => new AdEMAMix()],
];
const out = [];
for (const [label, make] of configs) {
  const opt = make();
  const w = Variable.zeros([64, 80], { name: 'w' });
  const gv = new Variable(Float32Array.from({ length: 64 * 80 }, (_, i) => Math.sin(i) * 0.03), { name: 'g' });
  const pairs = [[gv.value, w]];
  for (let i = 0; i < 6000; i++) opt.applyGradients(pairs);
  globalThis.gc();
  let collections = 0;
  const obs = new PerformanceObserver((list) => (collections += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < STEPS; i++) opt.applyGradients(pairs);
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  out.push({ label, collections });
  opt.dispose();
}
console.log(JSON.stringify(out));
`;

test('a steady-state int8 step allocates nothing (fresh process, 1 MiB young generation; float32 as the control)', () => {
  assertNoCollections(['--input-type=module', '-e', PROBE], 4);
});

test.run();
