// 8-bit optimizer state (stateDtype: 'int8', docs/int8-state.md): the code against its float64
// model (test/reference/quantize.mjs), the fused step against the model, SIMD = scalar, slots as
// dequantized copies, checkpoints (exact, version 2; version-1 files still load), memory per
// parameter, a long run, atomic failed steps, sparse rows, and no allocation per step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import * as lib from '../build/index.js';
import * as R from './reference/quantize.mjs';
import { rng } from './helpers/random.mjs';
import { noisyQuadratic } from './helpers/noisy-quadratic.mjs';
import { repoFile } from './helpers/load-ts.mjs';
import { baseCombos } from './helpers/conformance.mjs';
import { assertNoCollections, assertResumes, resumableRun, stateBytesPerParam } from './helpers/int8-checks.mjs';
import * as V1 from './fixtures/make-state-v1.mjs';
import { sgd } from './reference/sgd.mjs';
import { lion } from './reference/lion.mjs';
import { rmsprop } from './reference/rmsprop.mjs';
import { adagrad } from './reference/adagrad.mjs';
import { adam, adamw } from './reference/adam.mjs';

const { ready, Variable, Optimizer, Adam, AdamW, LazyAdam, SGD, Lion, RMSprop, Adagrad, Lookahead, SWA, LossScaleOptimizer, QuantizedSlot, Arena, setSimdEnabled, defaultHeap, STATE_FORMAT_VERSION } = lib;
await ready();

const N = 5000; // above INT8_MIN_SIZE (4,096); not a multiple of 256 (a partial last block)

/** Codes and absmax of a quantized slot (copies). */
const qstate = (opt, v, name) => opt.getState().variables[`${v.name}/${name}`].quantized;

function gradients(seed, steps, n, scale = 0.01) {
  const r = rng(seed);
  return Array.from({ length: steps }, () => r.f32(n, scale));
}

test('the kernel code equals its float64 model bit for bit: nearest and stochastic, SIMD and scalar, edge values', () => {
  const H = defaultHeap();
  const p = H.alloc(4096 + 2048);
  const r = rng(11);
  try {
    for (const simd of [true, false]) {
      setSimdEnabled(simd);
      for (let trial = 0; trial < 1200; trial++) {
        const len = 1 + r.int(256);
        const kind = trial % 2 ? 'signed' : 'unsigned';
        const stochastic = trial % 3 === 0;
        const seed = r.int(2 ** 30);
        const base = r.int(1e6);
        const scale = 10 ** (r.uniform() * 70 - 45);
        const x = new Float32Array(len);
        for (let i = 0; i < len; i++) {
          const z = r.normal() * Math.exp(r.normal() * 4) * scale;
          x[i] = kind === 'signed' ? z : Math.abs(z);
          if (r.uniform() < 0.05) x[i] = 0;
        }
        // Exact ties (3 mantissa bits + a half step) and exactly representable codes.
        if (trial % 5 === 0) for (let i = 0; i < len; i++) x[i] = Math.fround(2 ** (r.int(40) - 35) * (1 + r.int(32) / 16)) * (kind === 'signed' && r.uniform() < 0.5 ? -1 : 1);
        if (trial === 1) x.fill(0);
        if (trial === 3) x[0] = 1e-40; // absmax subnormal: stored as zeros
        new Float32Array(H.memory.buffer, p + 1024, len).set(x);
        H.kernels.qQuantBlock(p + 1024, p + 4096, p, len, kind === 'signed' ? 1 : 0, stochastic ? 1 : 0, seed, base);
        const codes = new Uint8Array(H.memory.buffer, p + 4096, len).slice();
        const absmax = new Float32Array(H.memory.buffer, p, 1)[0];
        const ref = R.quantizeBlock(Array.from(x), kind, stochastic ? { seed, base } : null);
        assert.is(absmax, ref.absmax, `absmax, trial ${trial}`);
        assert.equal([...codes], [...ref.codes], `codes, trial ${trial} (${kind}, stochastic ${stochastic})`);
        H.kernels.qDequantBlock(p + 4096, absmax, p + 1024, len, kind === 'signed' ? 1 : 0);
        const back = new Float32Array(H.memory.buffer, p + 1024, len);
        const refBack = R.dequantizeBlock(codes, absmax, kind);
        for (let i = 0; i < len; i++) assert.ok(Object.is(back[i], refBack[i]), `dequantized[${i}], trial ${trial}`);
      }
    }
  } finally {
    setSimdEnabled(true);
    H.free(p);
  }
});

test('a NaN in a block makes its absmax NaN and the whole block decodes to NaN, on both paths', () => {
  const H = defaultHeap();
  const p = H.alloc(4096);
  try {
    for (const kind of ['signed', 'unsigned']) {
      const out = [true, false].map((simd) => {
        setSimdEnabled(simd);
        const x = Float32Array.from({ length: 40 }, (_, i) => (kind === 'signed' ? Math.sin(i) : i / 40));
        x[17] = NaN;
        new Float32Array(H.memory.buffer, p + 1024, 40).set(x);
        H.kernels.qQuantBlock(p + 1024, p + 2048, p, 40, kind === 'signed' ? 1 : 0, 1, 5, 0);
        H.kernels.qDequantBlock(p + 2048, new Float32Array(H.memory.buffer, p, 1)[0], p + 1024, 40, kind === 'signed' ? 1 : 0);
        return { absmax: new Uint32Array(H.memory.buffer, p, 1)[0], codes: [...new Uint8Array(H.memory.buffer, p + 2048, 40)], values: [...new Float32Array(H.memory.buffer, p + 1024, 40)] };
      });
      setSimdEnabled(true);
      assert.is(out[0].absmax, 0x7fc00000, `${kind}: one canonical NaN`);
      assert.equal(out[0], out[1], `${kind}: SIMD = scalar`);
      assert.ok(out[0].values.every(Number.isNaN), `${kind}: every value NaN`);
    }
  } finally {
    setSimdEnabled(true);
    H.free(p);
  }
});

test('stochastic rounding of second moments is unbiased; first moments round to nearest', () => {
  // y halfway between two codes' values rounds up half the time, a quarter of the way 25%.
  const lo = R.valueOf(100, 'unsigned');
  const hi = R.valueOf(101, 'unsigned');
  for (const f of [0.25, 0.5]) {
    const y = lo + (hi - lo) * f;
    let up = 0;
    for (let i = 0; i < 20000; i++) if (R.codeOf(y, 'unsigned', R.draw(i, R.roundingSeed(3))) === 101) up++;
    assert.ok(Math.abs(up / 20000 - f) < 0.015, `rounds up ${up / 20000}, expected ${f}`);
  }
  const slo = R.valueOf(100, 'signed');
  assert.is(R.codeOf(slo + (R.valueOf(101, 'signed') - slo) * 0.49, 'signed'), 100);
});

test('getSlot(v, "m").value is a dequantized copy: writes to it change nothing; assign is refused; small variables keep float32 slots', () => {
  const w = new Variable(rng(1).f32(N), { name: 'w' });
  const b = new Variable(rng(2).f32(10), { name: 'b' });
  const opt = new Adam({ stateDtype: 'int8' });
  opt.applyGradients([[rng(3).f32(N, 0.01), w], [rng(4).f32(10, 0.01), b]]);
  const m = opt.getSlot(w, 'm');
  assert.ok(m instanceof QuantizedSlot && m instanceof Variable);
  assert.equal(m.shape, [N]);
  assert.is(m.kind, 'signed');
  assert.is(opt.getSlot(w, 'v').kind, 'unsigned');
  const q = qstate(opt, w, 'm');
  const copy = m.value;
  assert.equal([...copy], [...R.dequantize(q)].map(Math.fround));
  copy.fill(123);
  assert.equal([...m.value], [...R.dequantize(q)].map(Math.fround), 'writing to the copy changed the slot');
  assert.throws(() => m.assign(new Float32Array(N)), /cannot be assigned.*setState or loadState/);
  assert.equal(qstate(opt, w, 'm').codes, q.codes);
  assert.not.ok(opt.getSlot(b, 'm') instanceof QuantizedSlot, 'a 10-element variable keeps float32 slots');
  assert.is(opt.getSlot(b, 'm').value[0], opt.getState().variables['b/m'].values[0]);
  assert.is(opt.getConfig().stateDtype, 'int8');
  assert.is(new Adam().getConfig().stateDtype, 'float32');
  assert.is(Adam.fromConfig(opt.getConfig()).stateDtype, 'int8');
  opt.dispose();
  assert.throws(() => m.value, /disposed/);
});

test('Adam int8 step: weights match the float64 model, codes exactly wherever the float math determines them', () => {
  const o = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
  const n = 4096 + 300;
  const w = new Variable(rng(5).f32(n), { name: 'w' });
  const opt = new Adam({ ...o, stateDtype: 'int8' });
  const gs = gradients(6, 8, n);
  let checked = 0;
  let total = 0;
  for (let t = 1; t <= gs.length; t++) {
    // The model starts from the kernel's state each step, so the comparison is per step.
    const before = t === 1 ? null : opt.getState().variables;
    const w0 = Float64Array.from(w.value);
    opt.applyGradients([[gs[t - 1], w]]);
    const mq = before ? before['w/m'].quantized : R.quantize(new Float32Array(n), 'signed');
    const vq = before ? before['w/v'].quantized : R.quantize(new Float32Array(n), 'unsigned');
    const ref = R.adamInt8Step(w0, gs[t - 1], mq, vq, o.learningRate, t, o);
    const got = opt.getState().variables;
    for (let i = 0; i < n; i++) assert.ok(Math.abs(w.value[i] - w0[i]) <= 2e-5 * Math.abs(w0[i]) + 1e-5, `weight ${i} at step ${t}: ${w.value[i]} vs ${w0[i]}`);
    for (const [name, q, x] of [['m', ref.m, ref.mFloat], ['v', ref.v, ref.vFloat]]) {
      const k = got[`w/${name}`].quantized;
      for (let i = 0; i < q.absmax.length; i++) assert.ok(Math.abs(k.absmax[i] - q.absmax[i]) <= 1e-5 * q.absmax[i], `${name} absmax ${i} step ${t}`);
      const stable = R.stableCodes(x, q, name === 'v' ? R.roundingSeed(t) : null);
      for (let i = 0; i < n; i++) {
        total++;
        if (!stable[i]) continue;
        checked++;
        assert.is(k.codes[i], q.codes[i], `${name} code ${i} at step ${t}`);
      }
    }
  }
  assert.ok(checked > 0.99 * total, `only ${checked} of ${total} codes are determined`);
  opt.dispose();
});

/**
 * Every optimizer with the option, against its float64 reference through int8Step: `stochastic`
 * lists the slots that round stochastically (slow EMAs).
 */
const MODELLED = [
  ['AdamW', (o) => new AdamW(o), adamw, { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, amsgrad: false, weightDecay: 0 }, ['v']],
  ['Adam amsgrad', (o) => new Adam(o), adam, { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, amsgrad: true }, ['v', 'vhat']],
  ['SGD momentum', (o) => new SGD(o), sgd, { learningRate: 0.05, momentum: 0.9, nesterov: false }, []],
  ['SGD nesterov', (o) => new SGD(o), sgd, { learningRate: 0.05, momentum: 0.8, nesterov: true }, []],
  ['Lion', (o) => new Lion(o), lion, { learningRate: 0.001, beta1: 0.9, beta2: 0.99 }, ['momentum']],
  ['RMSprop', (o) => new RMSprop(o), rmsprop, { learningRate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false }, ['velocity']],
  ['RMSprop momentum', (o) => new RMSprop(o), rmsprop, { learningRate: 0.001, rho: 0.95, momentum: 0.9, epsilon: 1e-7, centered: false }, ['velocity']],
  ['Adagrad', (o) => new Adagrad(o), adagrad, { learningRate: 0.01, initialAccumulatorValue: 0.1, epsilon: 1e-7 }, ['accumulator']],
];

test('every optimizer with stateDtype int8 matches its float64 reference step by step (weights within tolerance, codes where determined)', () => {
  const n = 4096 + 300;
  for (const [label, make, ref, o, stochastic] of MODELLED) {
    const { weightDecay: _, ...options } = o;
    const w = new Variable(rng(30).f32(n), { name: 'w', shape: [4, n / 4] }); // rows of 1,099 (Adagrad lays its slot out by row)
    const opt = make({ ...options, ...(label === 'AdamW' ? { weightDecay: 0 } : {}), stateDtype: 'int8' });
    const gs = gradients(31, 6, n, 0.05);
    let checked = 0;
    let total = 0;
    for (let t = 1; t <= gs.length; t++) {
      opt.prepare([w]);
      const before = opt.getState().variables;
      const slots = Object.fromEntries(Object.entries(before).map(([k, e]) => [k.slice(2), e.quantized]));
      const w0 = Float64Array.from(w.value);
      opt.applyGradients([[gs[t - 1], w]]);
      const model = R.int8Step(ref, o, w0, gs[t - 1], slots, o.learningRate, t, stochastic);
      const got = opt.getState().variables;
      for (let i = 0; i < n; i++) assert.ok(Math.abs(w.value[i] - w0[i]) <= 2e-5 * Math.abs(w0[i]) + 1e-6, `${label}: weight ${i} at step ${t}: ${w.value[i]} vs ${w0[i]}`);
      for (const [k, q] of Object.entries(model.slots)) {
        const mine = got[`w/${k}`].quantized;
        for (let i = 0; i < q.absmax.length; i++) assert.ok(Math.abs(mine.absmax[i] - q.absmax[i]) <= 1e-5 * q.absmax[i], `${label}: ${k} absmax ${i} at step ${t}`);
        const stable = R.stableCodes(model.floats[k], q, stochastic.includes(k) ? R.roundingSeed(t) : null);
        for (let i = 0; i < n; i++) {
          total++;
          if (!stable[i]) continue;
          checked++;
          assert.is(mine.codes[i], q.codes[i], `${label}: ${k} code ${i} at step ${t}`);
        }
      }
    }
    assert.ok(checked > 0.99 * total, `${label}: only ${checked} of ${total} codes are determined`);
    opt.dispose();
  }
});

test('SIMD and scalar give the same bits: every optimizer with the option, LazyAdam and Adagrad sparse too', () => {
  const rows = 40;
  const cols = 130; // a row is not a multiple of 16 or 256
  const cases = [
    ['Adam', () => new Adam({ learningRate: 0.01, stateDtype: 'int8' }), false],
    ['AdamW + clipnorm', () => new AdamW({ learningRate: 0.01, clipnorm: 1, stateDtype: 'int8' }), false],
    ['Adam amsgrad', () => new Adam({ learningRate: 0.01, amsgrad: true, stateDtype: 'int8' }), false],
    ['LazyAdam', () => new LazyAdam({ learningRate: 0.01, stateDtype: 'int8' }), true],
    ['SGD nesterov', () => new SGD({ learningRate: 0.01, momentum: 0.9, nesterov: true, stateDtype: 'int8' }), true],
    ['Lion', () => new Lion({ stateDtype: 'int8' }), false],
    ['RMSprop momentum', () => new RMSprop({ momentum: 0.5, stateDtype: 'int8' }), false],
    ['Adagrad', () => new Adagrad({ stateDtype: 'int8' }), true],
  ];
  for (const [label, make, sparse] of cases) {
    const runs = [true, false].map((simd) => {
      setSimdEnabled(simd);
      try {
        const w = new Variable(rng(7).f32(rows * cols), { name: 'w', shape: [rows, cols] });
        const opt = make();
        const r = rng(8);
        for (let t = 0; t < 12; t++) {
          const g = sparse && t % 2 ? { indices: Int32Array.from([3, 17, 39, 17]), values: r.f32(4 * cols, 0.01) } : r.f32(rows * cols, 0.01);
          opt.applyGradients([[g, w]]);
        }
        const s = opt.getState().variables;
        const out = { w: w.value.slice(), s };
        opt.dispose();
        w.dispose();
        return out;
      } finally {
        setSimdEnabled(true);
      }
    });
    assert.equal(runs[0].w, runs[1].w, `${label}: weights`);
    for (const k of Object.keys(runs[0].s)) {
      assert.equal(runs[0].s[k].quantized.codes, runs[1].s[k].quantized.codes, `${label}: ${k} codes`);
      assert.equal(runs[0].s[k].quantized.absmax, runs[1].s[k].quantized.absmax, `${label}: ${k} absmax`);
    }
  }
});

test('LazyAdam int8: a sparse step changes only the touched rows (moments and weights), as the model says', () => {
  const rows = 64;
  const cols = 100;
  const o = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
  const w = new Variable(rng(9).f32(rows * cols), { name: 'w', shape: [rows, cols] });
  const opt = new LazyAdam({ ...o, stateDtype: 'int8' });
  opt.applyGradients([[rng(10).f32(rows * cols, 0.01), w]]);
  const before = opt.getState().variables;
  assert.is(before['w/m'].quantized.rowSize, cols);
  assert.is(before['w/m'].quantized.absmax.length, rows, 'one block per 100-element row');
  const w0 = Float64Array.from(w.value);
  const touched = [2, 40, 63];
  const values = rng(12).f32(touched.length * cols, 0.01);
  opt.applyGradients([[{ indices: Int32Array.from(touched), values }, w]]);
  const after = opt.getState().variables;
  const ref = R.adamInt8Step(Float64Array.from(w0), values, before['w/m'].quantized, before['w/v'].quantized, o.learningRate, 2, o, touched);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      if (!touched.includes(r)) {
        assert.is(w.value[i], Math.fround(w0[i]), `untouched weight ${i}`);
        assert.is(after['w/m'].quantized.codes[i], before['w/m'].quantized.codes[i], `untouched m code ${i}`);
        assert.is(after['w/v'].quantized.codes[i], before['w/v'].quantized.codes[i], `untouched v code ${i}`);
      } else {
        const d = Math.abs(w.value[i] - w0[i]);
        assert.ok(d > 0, `touched weight ${i} moved`);
      }
    }
    if (!touched.includes(r)) assert.is(after['w/m'].quantized.absmax[r], before['w/m'].quantized.absmax[r]);
  }
  for (const name of ['m', 'v']) {
    const q = ref[name];
    const stable = R.stableCodes(ref[`${name}Float`], q, name === 'v' ? R.roundingSeed(2) : null);
    for (const r of touched) {
      for (let j = 0; j < cols; j++) {
        const i = r * cols + j;
        if (stable[i]) assert.is(after[`w/${name}`].quantized.codes[i], q.codes[i], `${name} code ${i}`);
      }
    }
  }
  // Rows narrower than 16 keep float32 slots.
  const narrow = new Variable(rng(13).f32(5000), { name: 'narrow', shape: [1000, 5] });
  const opt2 = new LazyAdam({ stateDtype: 'int8' });
  opt2.applyGradients([[rng(14).f32(5000, 0.01), narrow]]);
  assert.not.ok(opt2.getSlot(narrow, 'm') instanceof QuantizedSlot);
  opt.dispose();
  opt2.dispose();
});

test('checkpoints hold the exact 8-bit state: save, restore, continue = the uninterrupted run (bytes, deferred, getState/setState)', () => {
  for (const how of ['bytes', 'deferred', 'state']) {
    assertResumes(() => new Adam({ learningRate: 0.01, stateDtype: 'int8' }), how, { sparse: false });
    assertResumes(() => new SGD({ momentum: 0.9, stateDtype: 'int8' }), how, { sparse: true });
    assertResumes(() => new Lion({ stateDtype: 'int8' }), how, { sparse: false });
    assertResumes(() => new RMSprop({ momentum: 0.9, stateDtype: 'int8' }), how, { sparse: false });
    assertResumes(() => new Adagrad({ stateDtype: 'int8' }), how, { sparse: true });
    assertResumes(() => new AdamW({ learningRate: 0.01, amsgrad: true, stateDtype: 'int8' }), how, { sparse: false });
    assertResumes(() => new LazyAdam({ learningRate: 0.01, stateDtype: 'int8' }), how, { sparse: true });
  }
});

test('every base-option combination with int8 state: SIMD = scalar, and save/restore/continue = the uninterrupted run; wrappers too', () => {
  const run = (make, simd, resumeAt) => resumableRun(make, { n: 4096 + 100, simd, resumeAt });
  const makers = baseCombos().map((o) => [JSON.stringify(o), () => new Adam({ ...o, learningRate: 0.01, stateDtype: 'int8' })]);
  makers.push(
    ['Lookahead(Adam int8)', () => new Lookahead(new Adam({ learningRate: 0.01, stateDtype: 'int8' }), { syncPeriod: 3 })],
    ['SWA(Adam int8)', () => new SWA(new Adam({ learningRate: 0.01, stateDtype: 'int8' }), { averagePeriod: 2 })],
    ['LossScaleOptimizer(Adam int8)', () => new LossScaleOptimizer(new Adam({ learningRate: 0.01, stateDtype: 'int8' }))],
  );
  for (const [label, make] of makers) {
    const simd = run(make, true, -1);
    const scalar = run(make, false, -1);
    const resumed = run(make, true, 4);
    assert.equal(scalar.w, simd.w, `${label}: SIMD = scalar weights`);
    assert.is(scalar.s, simd.s, `${label}: SIMD = scalar state`);
    assert.equal(resumed.w, simd.w, `${label}: resumed weights`);
    assert.is(resumed.s, simd.s, `${label}: resumed state`);
  }
});

test('checkpoint format version 2: an 8-bit slot takes its codes and absmax (about a quarter of the float32 bytes)', () => {
  assert.is(STATE_FORMAT_VERSION, 2);
  const w = new Variable(rng(16).f32(100000), { name: 'w' });
  const f = new Adam();
  const q = new Adam({ stateDtype: 'int8' });
  f.applyGradients([[rng(17).f32(100000, 0.01), w]]);
  q.applyGradients([[rng(17).f32(100000, 0.01), w]]);
  const fb = f.saveState().length;
  const qb = q.saveState().length;
  assert.ok(qb < 0.27 * fb, `${qb} bytes vs ${fb}`);
  assert.is(new DataView(q.saveState().buffer).getUint16(4, true), 2);
  // A float32 optimizer reads an 8-bit checkpoint's dequantized values; an 8-bit one quantizes a float32 state.
  const f2 = new Adam();
  f2.loadState(q.saveState(), [w]);
  assert.equal(f2.getState().variables['w/m'].values, q.getState().variables['w/m'].values);
  const q2 = new Adam({ stateDtype: 'int8' });
  q2.loadState(f.saveState(), [w]);
  const fm = f.getState().variables['w/m'].values;
  assert.equal(q2.getState().variables['w/m'].quantized, R.quantize(fm, 'signed'));
  for (const o of [f, q, f2, q2]) o.dispose();
});

test('a version-1 checkpoint written before 8-bit state still loads (float32 and int8 optimizers) and resumes', () => {
  const bytes = new Uint8Array(readFileSync(new URL('./fixtures/state-v1-adam.bin', import.meta.url)));
  assert.is(new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true), 1);
  const straight = V1.initial();
  const a = new Adam(V1.OPTIONS);
  for (let t = 0; t < V1.STEPS + 2; t++) {
    const g = V1.gradientsAt(t);
    a.applyGradients([[g[0], straight[0]], [g[1], straight[1]]]);
  }
  // Resume from the file: the weights after STEPS steps are recomputed (they are not in it).
  const vars = V1.initial();
  const warm = new Adam(V1.OPTIONS);
  for (let t = 0; t < V1.STEPS; t++) {
    const g = V1.gradientsAt(t);
    warm.applyGradients([[g[0], vars[0]], [g[1], vars[1]]]);
  }
  const resumed = Optimizer.fromCheckpoint(bytes, vars);
  assert.is(resumed.stateDtype, 'float32');
  for (let t = V1.STEPS; t < V1.STEPS + 2; t++) {
    const g = V1.gradientsAt(t);
    resumed.applyGradients([[g[0], vars[0]], [g[1], vars[1]]]);
  }
  assert.equal(vars[0].value, straight[0].value);
  assert.equal(vars[1].value, straight[1].value);
  // Into an int8 optimizer: the float32 moments are quantized (to nearest), the small one stays float32.
  const q = new Adam({ ...V1.OPTIONS, stateDtype: 'int8' });
  const vars2 = V1.initial();
  q.loadState(bytes, vars2);
  const saved = warm.getState().variables;
  assert.equal(q.getState().variables['w/m'].quantized, R.quantize(saved['w/m'].values, 'signed'));
  assert.equal(q.getState().variables['w/v'].quantized, R.quantize(saved['w/v'].values, 'unsigned'));
  assert.equal(q.getState().variables['b/v'].values, saved['b/v'].values);
  assert.is(q.iterations, V1.STEPS);
  for (const o of [a, warm, resumed, q]) o.dispose();
});

test('getState: an 8-bit entry\'s values are dequantized when first read (saveState never makes them); setState takes quantized and does not read values', () => {
  const w = new Variable(rng(40).f32(N), { name: 'w' });
  const opt = new Adam({ stateDtype: 'int8' });
  opt.applyGradients([[rng(41).f32(N, 0.01), w]]);
  const state = opt.getState();
  const entry = state.variables['w/m'];
  assert.type(Object.getOwnPropertyDescriptor(entry, 'values').get, 'function', 'a getter, not a precomputed array');
  assert.equal([...entry.values], [...R.dequantize(entry.quantized)].map(Math.fround));
  assert.is(entry.values, entry.values, 'computed once');
  const bytes = opt.saveState();
  // values that are not values at all: only quantized is read.
  const odd = { ...state, variables: { ...state.variables, 'w/m': { shape: [N], values: 'ignored', quantized: entry.quantized } } };
  const other = new Adam({ stateDtype: 'int8' });
  other.setState(odd, [w]);
  assert.equal(other.getState().variables['w/m'].quantized, entry.quantized);
  // A deferred restore keeps entries lazy and copied.
  const fresh = new Adam({ stateDtype: 'int8' });
  fresh.loadState(bytes);
  const pending = fresh.getState().variables['w/m'];
  assert.type(Object.getOwnPropertyDescriptor(pending, 'values').get, 'function');
  pending.quantized.codes.fill(0);
  assert.equal(fresh.getState().variables['w/m'].quantized, entry.quantized, 'getState hands out copies');
  for (const o of [opt, other, fresh]) o.dispose();
});

test('refused restores change nothing: a bad quantized entry, a corrupt checkpoint', () => {
  const w = new Variable(rng(18).f32(N), { name: 'w' });
  const opt = new Adam({ stateDtype: 'int8' });
  opt.applyGradients([[rng(19).f32(N, 0.01), w]]);
  const good = opt.getState();
  const snapshot = JSON.stringify([...good.variables['w/m'].quantized.codes]);
  const bad = (patch) => {
    const s = opt.getState();
    patch(s.variables['w/m'].quantized, s);
    return s;
  };
  const cases = [
    [bad((q) => { q.kind = 'nope'; }), /kind/],
    [bad((q) => { q.rowSize = 7; }), /rowSize/],
    [bad((q) => { q.codes = q.codes.subarray(1); }), /codes, expected/],
    [bad((q) => { q.absmax = new Float32Array(3); }), /absmax values, expected/],
    [bad((q) => { q.codes[5] = 0x7f; }), /not a signed code/],
    [bad((q) => { q.absmax[2] = -1; }), /negative/],
    [bad((q) => { q.codes = Array.from(q.codes); }), /Uint8Array/],
  ];
  const other = opt.getState();
  other.variables['w/m'].quantized.codes.fill(3);
  for (const [state, re] of cases) {
    assert.throws(() => opt.setState(state), re);
    assert.is(JSON.stringify([...opt.getState().variables['w/m'].quantized.codes]), snapshot);
  }
  const bytes = opt.saveState();
  bytes[bytes.length - 10] ^= 1;
  assert.throws(() => opt.loadState(bytes), /checksum/);
  assert.is(JSON.stringify([...opt.getState().variables['w/m'].quantized.codes]), snapshot);
  opt.setState(other); // a valid entry is taken exactly
  assert.ok(opt.getState().variables['w/m'].quantized.codes.every((c) => c === 3));
  opt.dispose();
});

test('a failed step leaves the 8-bit state, the weights and the arena untouched', () => {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const heap = new Arena(memory, lib.instantiateKernels(lib.kernelModule(), memory));
  const w = new Variable(rng(20).f32(N), { name: 'w' }, heap);
  const u = new Variable(rng(21).f32(N), { name: 'u' }, heap);
  const opt = new Adam({ stateDtype: 'int8' });
  opt.applyGradients([[rng(22).f32(N, 0.01), w]]);
  const s0 = opt.getState();
  const w0 = w.value.slice();
  const live = heap.liveBytes;
  // The second pair is refused (u is new: its slots would be built), after the first was read.
  assert.throws(() => opt.applyGradients([[rng(23).f32(N, 0.01), w], [new Float32Array(3), u]]), /3 values, expected 5000/);
  assert.throws(() => opt.applyGradients([[rng(23).f32(N, 0.01), w], [rng(24).f32(N, 0.01), u], [new Float32Array(N), w]]), /appears twice/);
  assert.is(heap.liveBytes, live);
  assert.equal(w.value, w0);
  const s1 = opt.getState();
  assert.equal(Object.keys(s1.variables), Object.keys(s0.variables));
  assert.equal(s1.variables['w/m'].quantized, s0.variables['w/m'].quantized);
  assert.equal(s1.variables['w/v'].quantized, s0.variables['w/v'].quantized);
  assert.is(opt.iterations, 1);
  opt.dispose();
});

test('memory: Adam int8 keeps at most 2.1 bytes of state per parameter at 1e6 (arena live bytes)', () => {
  const perParam = stateBytesPerParam(Adam);
  assert.ok(perParam.int8 <= 2.1, `int8: ${perParam.int8} bytes per parameter`);
  assert.ok(Math.abs(perParam.float32 - 8) < 0.01, `float32: ${perParam.float32}`);
  console.log(`  state bytes per parameter at 1e6: float32 ${perParam.float32.toFixed(4)}, int8 ${perParam.int8.toFixed(4)}`);
});

test('20,000 steps of Adam int8 on a small noisy problem: no NaN, no divergence, the float32 loss within 10%', () => {
  const P = noisyQuadratic(25);
  const run = (dtype) => {
    let worst = 0;
    const final = P.train(dtype, () => new Adam({ learningRate: 0.003, stateDtype: dtype }), 20000, (t) => t % 1000 === 999, (t, l) => {
      if (t > 5000) worst = Math.max(worst, l);
    });
    return { final, worst };
  };
  const f = run('float32');
  const q = run('int8');
  assert.ok(q.final < 1.1 * f.final, `final loss int8 ${q.final} vs float32 ${f.final}`);
  assert.ok(q.worst < 2 * f.final + 1e-3, `int8 loss rose to ${q.worst} after step 5000`);
  assert.ok(q.final < 0.01 * P.initial, 'int8 training converged');
});

test('a steady-state int8 step allocates nothing (fresh process, 1 MiB young generation)', () => {
  assertNoCollections([repoFile('test', 'helpers', 'int8-alloc-probe.mjs')], 7);
});

test('stateDtype is validated; centered RMSprop keeps float32 state', () => {
  assert.throws(() => new RMSprop({ centered: true, stateDtype: 'int8' }), /centered is not supported with stateDtype 'int8'/);
  for (const C of [Adam, AdamW, LazyAdam, SGD, Lion, RMSprop, Adagrad]) {
    assert.is(new C({ stateDtype: 'int8' }).getConfig().stateDtype, 'int8');
    assert.throws(() => new C({ stateDtype: 'int4' }), /stateDtype must be 'float32' or 'int8', got the string 'int4'/);
    assert.throws(() => new C({ state_dtype: 'int8' }), /did you mean stateDtype/);
  }
});

test.run();
