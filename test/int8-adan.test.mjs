// Adan with 8-bit state (stateDtype: 'int8', docs/int8-state.md): its four slots (m, v and the
// previous gradient signed, n unsigned), the fused step against the float64 model (the reference's
// update between the quantization points of test/reference/quantize.mjs), SIMD = scalar with every
// base option, checkpoints, memory per parameter, a long run, and no allocation per step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as lib from '../build/index.js';
import * as R from './reference/quantize.mjs';
import { adan } from './reference/adan.mjs';
import { rng } from './helpers/random.mjs';
import { noisyQuadratic } from './helpers/noisy-quadratic.mjs';
import { baseCombos } from './helpers/conformance.mjs';
import { assertNoCollections, assertResumes, resumableRun, stateBytesPerParam } from './helpers/int8-checks.mjs';

const { ready, Variable, Optimizer, Adan, QuantizedSlot, Arena, Lookahead, LossScaleOptimizer, setSimdEnabled } = lib;
await ready();

const SLOTS = { m: 'signed', v: 'signed', n: 'unsigned', previous_gradient: 'signed' };
/** The slots that round stochastically (slow EMAs); the previous gradient rounds to nearest. */
const STOCHASTIC = ['m', 'v', 'n'];

/**
 * One Adan step with 8-bit slots in float64 between the quantization points: dequantize each slot,
 * the reference's update (test/reference/adan.mjs, weight decay included), quantize the
 * float32-rounded new values (m, v, n stochastically with roundingSeed(t), the gradient to nearest).
 */
function adanInt8Step(o, w, g, slots, t) {
  const s = Object.fromEntries(Object.entries(slots).map(([k, q]) => [k, R.dequantize(q)]));
  adan.update(g, w, s, o.learningRate, t, o, null, null, { noDecay: false });
  const out = {};
  for (const [k, q] of Object.entries(slots)) out[k] = R.quantize(Float32Array.from(s[k]), q.kind, q.rowSize, STOCHASTIC.includes(k) ? R.roundingSeed(t) : null);
  return { slots: out, floats: s };
}

test('stateDtype: validated, in getConfig and fromConfig; slots m, v, previous_gradient signed and n unsigned from 4,096 elements, float32 below', () => {
  assert.is(new Adan().stateDtype, 'float32');
  assert.is(new Adan().getConfig().stateDtype, 'float32');
  const opt = new Adan({ stateDtype: 'int8' });
  assert.is(opt.getConfig().stateDtype, 'int8');
  assert.is(Adan.fromConfig(opt.getConfig()).stateDtype, 'int8');
  assert.throws(() => new Adan({ stateDtype: 'int4' }), /Adan: stateDtype must be 'float32' or 'int8', got the string 'int4'/);
  assert.throws(() => new Adan({ state_dtype: 'int8' }), /did you mean stateDtype/);
  const big = new Variable(rng(1).f32(4096), { name: 'big', shape: [64, 64] });
  const small = new Variable(rng(2).f32(4095), { name: 'small' });
  opt.applyGradients([[rng(3).f32(4096, 0.01), big], [rng(4).f32(4095, 0.01), small]]);
  for (const [name, kind] of Object.entries(SLOTS)) {
    const q = opt.getSlot(big, name);
    assert.ok(q instanceof QuantizedSlot, `${name} is 8-bit`);
    assert.is(q.kind, kind, name);
    assert.is(q.rowSize, 4096);
    assert.equal(q.shape, [64, 64]);
    assert.not.ok(opt.getSlot(small, name) instanceof QuantizedSlot, `${name} of a 4,095-element variable is float32`);
    // value: a dequantized float32 copy; writing to it changes nothing.
    const entry = opt.getState().variables[`big/${name}`];
    const copy = q.value;
    assert.instance(copy, Float32Array);
    assert.equal([...copy], [...R.dequantize(entry.quantized)].map(Math.fround));
    copy.fill(7);
    assert.equal([...q.value], [...R.dequantize(entry.quantized)].map(Math.fround));
    assert.throws(() => q.assign(new Float32Array(4096)), /cannot be assigned/);
  }
  // The previous gradient is the gradient, rounded to nearest.
  const g2 = rng(5).f32(4096, 0.01);
  opt.applyGradients([[g2, big], [rng(6).f32(4095, 0.01), small]]);
  assert.equal(opt.getState().variables['big/previous_gradient'].quantized, R.quantize(g2, 'signed'));
  // The pipeline harness's [300, 17] and [260, 20] have 8-bit slots.
  for (const shape of [[300, 17], [260, 20]]) {
    const v = new Variable(new Float32Array(shape[0] * shape[1]), { name: 'p', shape });
    const o = new Adan({ stateDtype: 'int8' });
    o.prepare([v]);
    assert.ok(o.getSlot(v, 'n') instanceof QuantizedSlot, JSON.stringify(shape));
    o.dispose();
    v.dispose();
  }
  opt.dispose();
});

test('Adan int8 matches its float64 model step by step: weights within tolerance, codes exactly wherever the float math determines them', () => {
  // 4,096 (whole blocks), 4,401 (a last block of 49: three groups of 16 and one element), 67 x 67
  // (a last block of 137); with and without weight decay; one variable first seen at step 3 (it
  // starts from a zero previous gradient, as the float32 optimizer).
  const cases = [
    [{ learningRate: 0.01 }, [[4096], [4401]]],
    [{ learningRate: 0.02, beta1: 0.9, beta2: 0.8, beta3: 0.95, epsilon: 1e-6, epsRoot: 0, weightDecay: 0.05 }, [[67, 67]]],
  ];
  for (const [given, shapes] of cases) {
    const o = { ...adan.defaults, ...given };
    const opt = new Adan({ ...given, stateDtype: 'int8' });
    const vars = shapes.map((shape, k) => new Variable(rng(10 + k).f32(shape.reduce((a, b) => a * b)), { name: `w${k}`, shape }));
    let checked = 0;
    let total = 0;
    for (let t = 1; t <= 7; t++) {
      const live = t < 3 ? vars.slice(0, 1) : vars;
      const gs = live.map((v, k) => rng(100 * t + k).f32(v.size, 0.05));
      opt.prepare(live);
      const before = opt.getState().variables;
      const w0 = live.map((v) => Float64Array.from(v.value));
      opt.applyGradients(live.map((v, k) => [gs[k], v]));
      const got = opt.getState().variables;
      live.forEach((v, k) => {
        const what = `${JSON.stringify(given)} ${v.name} step ${t}`;
        const slots = Object.fromEntries(Object.keys(SLOTS).map((name) => [name, before[`${v.name}/${name}`].quantized]));
        const model = adanInt8Step(o, w0[k], gs[k], slots, t);
        for (let i = 0; i < v.size; i++) assert.ok(Math.abs(v.value[i] - w0[k][i]) <= 2e-5 * Math.abs(w0[k][i]) + 1e-6, `${what}: weight ${i}: ${v.value[i]} vs ${w0[k][i]}`);
        for (const [name, q] of Object.entries(model.slots)) {
          const mine = got[`${v.name}/${name}`].quantized;
          for (let b = 0; b < q.absmax.length; b++) assert.ok(Math.abs(mine.absmax[b] - q.absmax[b]) <= 1e-5 * q.absmax[b], `${what}: ${name} absmax ${b}: ${mine.absmax[b]} vs ${q.absmax[b]}`);
          if (name === 'previous_gradient') {
            // The gradient itself, exactly: its codes are all determined.
            assert.equal(mine.codes, q.codes, `${what}: previous_gradient codes`);
            assert.equal(mine.absmax, q.absmax, `${what}: previous_gradient absmax`);
          }
          const stable = R.stableCodes(model.floats[name], q, STOCHASTIC.includes(name) ? R.roundingSeed(t) : null);
          for (let i = 0; i < v.size; i++) {
            total++;
            if (!stable[i]) continue;
            checked++;
            assert.is(mine.codes[i], q.codes[i], `${what}: ${name} code ${i}`);
          }
        }
      });
    }
    assert.ok(checked > 0.99 * total, `only ${checked} of ${total} codes are determined`);
    opt.dispose();
  }
});

test('every base-option combination with int8 state: SIMD = scalar, and save/restore/continue = the uninterrupted run; weight decay and wrappers too', () => {
  const n = 4096 + 105; // a last block of 105 elements: six groups of 16 and a tail of 9
  const run = (make, simd, resumeAt) => {
    const out = resumableRun(make, { n, simd, resumeAt });
    assert.ok(out.quantized >= 4, 'the four slots of w are 8-bit');
    return out;
  };
  const makers = baseCombos().map((o) => [JSON.stringify(o), () => new Adan({ ...o, learningRate: 0.01, stateDtype: 'int8' })]);
  makers.push(
    ['optax weight decay', () => new Adan({ learningRate: 0.01, weightDecay: 0.05, stateDtype: 'int8' })],
    ['optax weight decay, schedule', () => new Adan({ learningRate: 0.01, weightDecay: (t) => 0.01 * (t + 1), stateDtype: 'int8' })],
    ['Lookahead(Adan int8)', () => new Lookahead(new Adan({ learningRate: 0.01, stateDtype: 'int8' }), { syncPeriod: 3 })],
    ['LossScaleOptimizer(Adan int8)', () => new LossScaleOptimizer(new Adan({ learningRate: 0.01, stateDtype: 'int8' }))],
  );
  for (const [label, make] of makers) {
    const simd = run(make, true, -1);
    const scalar = run(make, false, -1);
    assert.equal(scalar.w, simd.w, `${label}: SIMD = scalar weights`);
    assert.is(scalar.s, simd.s, `${label}: SIMD = scalar state`);
    if (label.includes('schedule')) continue; // a function schedule is not serializable
    const resumed = run(make, true, 4);
    assert.equal(resumed.w, simd.w, `${label}: resumed weights`);
    assert.is(resumed.s, simd.s, `${label}: resumed state`);
  }
});

test('checkpoints hold the exact 8-bit state: save, restore, continue = the uninterrupted run (bytes, deferred, getState/setState); a float32 state loads quantized', () => {
  for (const how of ['bytes', 'deferred', 'state']) {
    const { state, stateDtype } = assertResumes(() => new Adan({ learningRate: 0.01, weightDecay: 0.01, stateDtype: 'int8' }), how);
    assert.is(stateDtype, 'int8');
    assert.equal(Object.keys(state).sort(), Object.keys(SLOTS).map((k) => `w/${k}`).sort());
  }
  const rows = 50;
  const cols = 100;
  const init = rng(15).f32(rows * cols);
  const grads = Array.from({ length: 3 }, (_, t) => rng(100 + t).f32(rows * cols, 0.01));
  // A float32 Adan's checkpoint into an int8 one: each slot quantized to nearest; and back.
  const wf = new Variable(init, { name: 'w', shape: [rows, cols] });
  const f = new Adan({ learningRate: 0.01 });
  for (const g of grads.slice(0, 3)) f.applyGradients([[g, wf]]);
  const q = new Adan({ learningRate: 0.01, stateDtype: 'int8' });
  q.loadState(f.saveState(), [wf]);
  const fs = f.getState().variables;
  for (const [name, kind] of Object.entries(SLOTS)) assert.equal(q.getState().variables[`w/${name}`].quantized, R.quantize(fs[`w/${name}`].values, kind), name);
  const back = new Adan({ learningRate: 0.01 });
  back.loadState(q.saveState(), [wf]);
  for (const name of Object.keys(SLOTS)) assert.equal(back.getState().variables[`w/${name}`].values, q.getSlot(wf, name).value, name);
  for (const o of [f, q, back]) o.dispose();
});

test('memory: Adan int8 keeps at most 4.1 bytes of state per parameter at 1e6 (float32: 16; arena live bytes)', () => {
  const perParam = stateBytesPerParam(Adan);
  assert.ok(perParam.int8 <= 4.1, `int8: ${perParam.int8} bytes per parameter`);
  assert.ok(Math.abs(perParam.float32 - 16) < 0.01, `float32: ${perParam.float32}`);
  console.log(`  Adan state bytes per parameter at 1e6: float32 ${perParam.float32.toFixed(4)}, int8 ${perParam.int8.toFixed(4)}`);
});

test('a failed step leaves the 8-bit state, the weights and the arena untouched', () => {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const heap = new Arena(memory, lib.instantiateKernels(lib.kernelModule(), memory));
  const w = new Variable(rng(20).f32(5000), { name: 'w' }, heap);
  const u = new Variable(rng(21).f32(5000), { name: 'u' }, heap);
  const opt = new Adan({ stateDtype: 'int8' });
  opt.applyGradients([[rng(22).f32(5000, 0.01), w]]);
  const s0 = opt.getState();
  const w0 = w.value.slice();
  const live = heap.liveBytes;
  assert.throws(() => opt.applyGradients([[rng(23).f32(5000, 0.01), w], [new Float32Array(3), u]]), /3 values, expected 5000/);
  assert.is(heap.liveBytes, live);
  assert.equal(w.value, w0);
  const s1 = opt.getState();
  assert.equal(Object.keys(s1.variables), Object.keys(s0.variables));
  for (const k of Object.keys(s0.variables)) assert.equal(s1.variables[k].quantized, s0.variables[k].quantized, k);
  assert.is(opt.iterations, 1);
  opt.dispose();
});

test('10,000 steps of Adan int8 on a small noisy problem: no NaN, no divergence, the float32 loss within 10%', () => {
  const P = noisyQuadratic(25);
  const run = (dtype) => {
    let worst = 0;
    const final = P.train(dtype, () => new Adan({ learningRate: 0.003, stateDtype: dtype }), 10000, (t) => t % 1000 === 999, (t, l) => {
      if (t > 3000) worst = Math.max(worst, l);
    });
    return { final, worst };
  };
  const f = run('float32');
  const q = run('int8');
  console.log(`  final loss: float32 ${f.final.toExponential(3)}, int8 ${q.final.toExponential(3)}`);
  assert.ok(q.final < 1.1 * f.final, `final loss int8 ${q.final} vs float32 ${f.final}`);
  assert.ok(q.worst < 2 * f.final + 1e-3, `int8 loss rose to ${q.worst} after step 3000`);
  assert.ok(q.final < 0.01 * P.initial, 'int8 training converged');
});

// Run in a fresh process with a 1 MiB young generation (see test/helpers/int8-alloc-probe.mjs):
// zero collections in 20,000 steps means fewer than 1 MiB / 20,000 bytes per step.
const PROBE = `
import { PerformanceObserver } from 'node:perf_hooks';
import { ready, Variable, Adan } from ${JSON.stringify(new URL('../build/index.js', import.meta.url).href)};
await ready();
const out = [];
for (const [label, options] of [['Adan int8', {}], ['Adan int8 weightDecay', { weightDecay: 0.01 }], ['Adan int8 clipnorm', { clipnorm: 1 }], ['Adan float32 (the same updateStep)', { stateDtype: 'float32' }]]) {
  const opt = new Adan({ stateDtype: 'int8', ...options });
  const w = Variable.zeros([64, 80], { name: 'w' });
  const g = new Variable(Float32Array.from({ length: 64 * 80 }, (_, i) => Math.sin(i) * 0.03), { name: 'g' });
  const pairs = [[g.value, w]];
  const step = () => opt.applyGradients(pairs);
  for (let i = 0; i < 6000; i++) step();
  globalThis.gc();
  let collections = 0;
  const obs = new PerformanceObserver((list) => (collections += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < 20000; i++) step();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  out.push({ label, collections });
  opt.dispose();
}
console.log(JSON.stringify(out));
`;

test('a steady-state Adan step allocates nothing, int8 and float32 (fresh process, 1 MiB young generation)', () => {
  assertNoCollections(['--input-type=module', '-e', PROBE], 4);
});

test.run();
