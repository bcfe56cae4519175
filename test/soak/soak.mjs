// Soak: many steps of Adam over 100 variables, watching for anything that accumulates.
//
//   npm run soak                       (node --expose-gc test/soak/soak.mjs: 100,000 steps)
//   node --expose-gc test/soak/soak.mjs --short      (CI: a few thousand steps)
//   options: --steps N, --vars N, --tfjs-steps N, --backends wasm,cpu, --no-tfjs
//
// Core part: 100 variables of mixed sizes train towards fixed targets (gradient = w - target,
// computed in wasm memory by the public kernels each step); most gradients are views of wasm
// memory, some are JS Float32Arrays, some are sparse rows with duplicates. tfjs part (the
// wasm-optim/tfjs entry, if built): the same over 100 tf.Variables on the wasm (zero-copy) and cpu
// backends, gradients refreshed every few steps inside tf.tidy.
//
// After a warm-up, samples are taken at regular intervals (after a forced GC): retained JS heap,
// wasm memory size, arena live bytes, tfjs tensor count and bytes, and that every weight is
// finite. It fails (exit 1) if the JS heap grows beyond noise, if wasm memory, arena bytes or the
// tensor count change at all, if a weight is not finite, or if the loss did not go down.
// The last line of output is `SOAK_RESULT <json>` with every figure, for test/soak.test.mjs.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ready, Variable, Adam, kernels, defaultHeap } from '../../build/index.js';
import { rng } from '../helpers/random.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const SHORT = flag('--short');
const STEPS = Number(option('--steps', SHORT ? 4000 : 100000));
const VARS = Number(option('--vars', 100));
const TFJS_STEPS = Number(option('--tfjs-steps', SHORT ? 1500 : STEPS));
const BACKENDS = option('--backends', SHORT ? 'wasm' : 'wasm,cpu').split(',').filter(Boolean);
const SAMPLES = 10;
/** Retained JS heap may wander by GC bookkeeping; a leak of even 10 bytes a step exceeds this in the full run. */
const HEAP_NOISE = 512 * 1024;

if (typeof globalThis.gc !== 'function') {
  console.error('soak: run with node --expose-gc (npm run soak does)');
  process.exit(2);
}

const MiB = (b) => `${(b / 1048576).toFixed(2)} MiB`;
const failures = [];
const fail = (msg) => {
  failures.push(msg);
  console.error(`  FAIL: ${msg}`);
};
function heapUsed() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** Checks a series of samples: the retained heap within noise, the other figures exactly constant. */
function judge(label, samples, exact) {
  const first = samples[0];
  const last = samples[samples.length - 1];
  const heapGrowth = last.heap - first.heap;
  const heapMax = Math.max(...samples.map((s) => s.heap)) - first.heap;
  if (heapGrowth > HEAP_NOISE) fail(`${label}: JS heap grew by ${heapGrowth} bytes (${samples.map((s) => s.heap).join(' ')})`);
  for (const key of exact) {
    const values = samples.map((s) => s[key]);
    if (values.some((v) => v !== values[0])) fail(`${label}: ${key} changed: ${values.join(' -> ')}`);
  }
  for (const s of samples) if (!s.finite) fail(`${label}: a weight is not finite at step ${s.step}`);
  if (!(last.loss < first.loss)) fail(`${label}: the loss did not go down (${first.loss} -> ${last.loss})`);
  return { heapGrowth, heapMaxAboveFirst: heapMax };
}

/** Splits `steps` into a warm-up and SAMPLES equal windows; calls sample() after the warm-up and each window. */
function schedule(steps) {
  const warm = Math.min(1000, Math.floor(steps / 5));
  const window = Math.max(1, Math.floor((steps - warm) / SAMPLES));
  return { warm, window, timed: window * SAMPLES };
}

// ---------------------------------------------------------------- core

async function soakCore() {
  await ready();
  const heap = defaultHeap();
  const r = rng(2024);
  // 100 variables: mostly dense vectors of 1..2000 values, every 10th a [rows, 16] table trained
  // with sparse rows (duplicates included), every 10th (offset 4) fed a JS-heap gradient.
  const specs = Array.from({ length: VARS }, (_, i) => {
    if (i % 10 === 9) return { kind: 'sparse', shape: [64 + r.int(200), 16] };
    return { kind: i % 10 === 4 ? 'js' : 'wasm', shape: [1 + r.int(2000)] };
  });
  const vars = specs.map((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const w = new Variable(r.f32(n), { name: `soak/w${i}`, shape: s.shape });
    const t = new Variable(r.f32(n), { name: `soak/target${i}`, shape: s.shape });
    const g = Variable.zeros(s.shape, { name: `soak/grad${i}` });
    let sparse = null;
    if (s.kind === 'sparse') {
      const count = 48;
      const indices = Int32Array.from({ length: count }, (_, k) => (k === count - 1 ? 0 : r.int(s.shape[0])));
      sparse = { indices, values: new Float32Array(count * s.shape[1]) };
    }
    return { ...s, w, t, g, js: s.kind === 'js' ? new Float32Array(n) : null, sparse };
  });
  const opt = new Adam({ learningRate: 0.01 });
  opt.prepare(vars.map((x) => x.w)); // slots first: memory must not grow once the pair views exist
  // Sparse tables: rows outside the index list are never trained; the loss counts only trained rows.
  const pairs = vars.map((x) => [x.js ?? x.sparse ?? x.g.value, x.w]);

  const step = () => {
    for (let i = 0; i < vars.length; i++) {
      const x = vars[i];
      const g = x.g.value;
      kernels.copy(g, x.w.value);
      kernels.axpy(g, x.t.value, -1); // g = w - target
      if (x.js) x.js.set(g);
      else if (x.sparse) {
        const { indices, values } = x.sparse;
        const cols = x.shape[1];
        for (let k = 0; k < indices.length; k++) {
          const row = indices[k] * cols;
          for (let j = 0; j < cols; j++) values[k * cols + j] = g[row + j];
        }
      }
    }
    opt.applyGradients(pairs);
  };
  const loss = () => {
    let s = 0;
    for (const x of vars) {
      const g = x.g.value;
      kernels.copy(g, x.w.value);
      kernels.axpy(g, x.t.value, -1);
      if (x.sparse) {
        const cols = x.shape[1];
        const seen = new Set(x.sparse.indices);
        for (const row of seen) for (let j = 0; j < cols; j++) s += g[row * cols + j] ** 2;
      } else s += kernels.sumSquares(g);
    }
    return s;
  };
  const sample = (stepNo) => ({
    step: stepNo,
    heap: heapUsed(),
    wasm: heap.memory.buffer.byteLength,
    live: heap.liveBytes,
    finite: vars.every((x) => kernels.allFinite(x.w.value)),
    loss: loss(),
  });

  const elements = vars.reduce((a, x) => a + x.w.size, 0);
  console.log(`core: Adam, ${VARS} variables (${elements} weights; ${specs.filter((s) => s.kind === 'sparse').length} sparse, ${specs.filter((s) => s.kind === 'js').length} JS-heap gradients), ${STEPS} steps`);
  const { warm, window, timed } = schedule(STEPS);
  const before = sample(0);
  for (let i = 0; i < warm; i++) step();
  const samples = [sample(warm)];
  const t0 = performance.now();
  let busy = 0;
  for (let k = 1; k <= SAMPLES; k++) {
    const s0 = performance.now();
    for (let i = 0; i < window; i++) step();
    busy += performance.now() - s0;
    samples.push(sample(warm + k * window));
  }
  const wall = performance.now() - t0;
  const verdict = judge('core', samples, ['wasm', 'live']);
  const result = {
    steps: warm + timed,
    variables: VARS,
    weights: elements,
    stepsPerSecond: Math.round((timed / busy) * 1000),
    seconds: +(wall / 1000).toFixed(1),
    jsHeap: { beforeWarmup: before.heap, afterWarmup: samples[0].heap, end: samples.at(-1).heap, growth: verdict.heapGrowth, maxAboveFirst: verdict.heapMaxAboveFirst, samples: samples.map((s) => s.heap) },
    wasmMemory: { afterWarmup: samples[0].wasm, end: samples.at(-1).wasm },
    arenaLiveBytes: { afterWarmup: samples[0].live, end: samples.at(-1).live },
    loss: { start: before.loss, afterWarmup: samples[0].loss, end: samples.at(-1).loss },
    finite: samples.every((s) => s.finite),
  };
  console.log(
    `  ${result.stepsPerSecond} steps/s; JS heap ${MiB(samples[0].heap)} -> ${MiB(samples.at(-1).heap)} (${verdict.heapGrowth >= 0 ? '+' : ''}${verdict.heapGrowth} B); ` +
      `wasm memory ${MiB(samples[0].wasm)} -> ${MiB(samples.at(-1).wasm)}; arena live ${samples[0].live} -> ${samples.at(-1).live} B; ` +
      `loss ${before.loss.toExponential(3)} -> ${samples.at(-1).loss.toExponential(3)}`,
  );
  opt.dispose();
  for (const x of vars) for (const v of [x.w, x.t, x.g]) v.dispose();
  return result;
}

// ---------------------------------------------------------------- tfjs

async function soakTfjs(backend) {
  const entry = fileURLToPath(new URL('../../build/tfjs/index.js', import.meta.url));
  if (!existsSync(entry)) return { skipped: 'build/tfjs/index.js does not exist' };
  const optim = await import('../../build/tfjs/index.js');
  const require = createRequire(import.meta.url);
  const tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  require('@tensorflow/tfjs-backend-wasm');
  await optim.ready();
  const warn = console.warn;
  console.warn = () => {}; // the cpu backend's "install tfjs-node" banner
  try {
    await tf.setBackend(backend);
    tf.dispose(tf.scalar(0));
  } finally {
    console.warn = warn;
  }
  const b = tf.backend();
  const wasmMemory = () => {
    const M = b.wasm;
    const mem = M && (M.wasmMemory ?? M.asm?.memory ?? M.wasmExports?.memory);
    return mem ? mem.buffer.byteLength : 0;
  };
  const REFRESH = 25; // gradients are recomputed (in tf.tidy) every REFRESH steps
  const r = rng(7);
  const vars = Array.from({ length: VARS }, (_, i) => {
    const shape = i % 10 === 9 ? [16 + r.int(64), 8] : [1 + r.int(1000)];
    const n = shape.reduce((a, c) => a * c, 1);
    const init = tf.tensor(r.f32(n), shape);
    const w = tf.variable(init, true, `soak_${backend}_w${i}`);
    init.dispose(); // the variable then owns its data alone (refCount 1: updated in place)
    return { w, t: tf.tensor(r.f32(n), shape) };
  });
  const opt = optim.adam({ learningRate: 0.001 });
  let grads = {};
  const refresh = () => {
    tf.dispose(Object.values(grads));
    grads = tf.tidy(() => {
      const out = {};
      for (const x of vars) out[x.w.name] = tf.sub(x.w, x.t);
      return out;
    });
  };
  let n = 0;
  const step = () => {
    if (n++ % REFRESH === 0) refresh();
    opt.applyGradients(grads);
  };
  const loss = () => tf.tidy(() => vars.reduce((s, x) => s + tf.sum(tf.square(tf.sub(x.w, x.t))).dataSync()[0], 0));
  const finite = () => vars.every((x) => x.w.dataSync().every(Number.isFinite));
  const sample = (stepNo) => {
    const m = tf.memory();
    return { step: stepNo, heap: heapUsed(), wasm: wasmMemory(), arena: defaultHeap().memory.buffer.byteLength, tensors: m.numTensors, tensorBytes: m.numBytes, finite: finite(), loss: loss() };
  };

  console.log(`tfjs (${backend}): wasm-optim/tfjs adam, ${VARS} tf.Variables, ${TFJS_STEPS} steps, gradients refreshed every ${REFRESH} steps`);
  const { warm, window, timed } = schedule(TFJS_STEPS);
  const before = sample(0);
  for (let i = 0; i < warm; i++) step();
  const samples = [sample(warm)];
  let busy = 0;
  for (let k = 1; k <= SAMPLES; k++) {
    const s0 = performance.now();
    for (let i = 0; i < window; i++) step();
    busy += performance.now() - s0;
    samples.push(sample(warm + k * window));
  }
  const label = `tfjs ${backend}`;
  const verdict = judge(label, samples, ['wasm', 'arena', 'tensors', 'tensorBytes']);
  const result = {
    mode: opt.mode,
    steps: warm + timed,
    stepsPerSecond: Math.round((timed / busy) * 1000),
    jsHeap: { beforeWarmup: before.heap, afterWarmup: samples[0].heap, end: samples.at(-1).heap, growth: verdict.heapGrowth, maxAboveFirst: verdict.heapMaxAboveFirst, samples: samples.map((s) => s.heap) },
    wasmMemory: { afterWarmup: samples[0].wasm, end: samples.at(-1).wasm },
    arenaMemory: { afterWarmup: samples[0].arena, end: samples.at(-1).arena },
    tensors: { beforeWarmup: before.tensors, afterWarmup: samples[0].tensors, end: samples.at(-1).tensors },
    tensorBytes: { afterWarmup: samples[0].tensorBytes, end: samples.at(-1).tensorBytes },
    loss: { start: before.loss, end: samples.at(-1).loss },
    finite: samples.every((s) => s.finite),
  };
  console.log(
    `  mode ${opt.mode}; ${result.stepsPerSecond} steps/s; JS heap ${MiB(samples[0].heap)} -> ${MiB(samples.at(-1).heap)} (${verdict.heapGrowth >= 0 ? '+' : ''}${verdict.heapGrowth} B); ` +
      (backend === 'wasm' ? `tfjs wasm memory ${MiB(samples[0].wasm)} -> ${MiB(samples.at(-1).wasm)}; ` : `arena ${MiB(samples[0].arena)} -> ${MiB(samples.at(-1).arena)}; `) +
      `tensors ${samples[0].tensors} -> ${samples.at(-1).tensors}; ` +
      `loss ${before.loss.toExponential(3)} -> ${samples.at(-1).loss.toExponential(3)}`,
  );
  // Everything the soak made goes away again.
  tf.dispose(Object.values(grads));
  opt.dispose();
  for (const x of vars) {
    x.w.dispose();
    x.t.dispose();
  }
  const left = tf.memory().numTensors;
  if (left !== before.tensors - 2 * VARS) fail(`${label}: ${left} tensors left after disposing everything, expected ${before.tensors - 2 * VARS}`);
  return result;
}

// ---------------------------------------------------------------- main

const result = { short: SHORT, core: await soakCore(), tfjs: {} };
if (!flag('--no-tfjs')) for (const backend of BACKENDS) result.tfjs[backend] = await soakTfjs(backend);
result.failures = failures;
console.log(failures.length ? `soak FAILED (${failures.length})` : 'soak passed');
console.log(`SOAK_RESULT ${JSON.stringify(result)}`);
process.exitCode = failures.length ? 1 : 0;
