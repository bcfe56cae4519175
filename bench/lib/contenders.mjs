// The things being timed. Each builder returns { contenders, dispose } where every contender is
// { id, run(reps), before?() } for race() in measure.mjs. Our optimizers always go through the
// public API: opt.applyGradients([[gradient, variable]]).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as wo from '../../build/index.js';

const require = createRequire(import.meta.url);

// ------------------------------------------------------------------ data

/** Deterministic uniform floats in [lo, hi) (xorshift32), so every run times the same numbers. */
export function randomFloats(n, lo = -1, hi = 1, seed = 12345) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const w = (hi - lo) / 4294967296;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + s * w;
  }
  return out;
}

/** Weights are shaped [n / 1000, 1000] so factored optimizers (Adafactor) take their matrix path. */
export const shapeOf = (n) => (n % 1000 === 0 ? [n / 1000, 1000] : [n]);

// ------------------------------------------------------------------ our optimizers

/**
 * Every optimizer class the package exports and registers, with a way to build one (`make` is null
 * when none works). Adds SGD with momentum as its own row because tf.train.momentum exists.
 */
export function discoverOptimizers() {
  const list = [];
  for (const [exportName, C] of Object.entries(wo)) {
    // Registered classes only: an exported base class (a wrapper's) is not an optimizer to run.
    if (typeof C !== 'function' || !(C.prototype instanceof wo.Optimizer) || wo.getRegisteredClass(C.className) !== C) continue;
    const make = constructorFor(C);
    list.push({ key: exportName, className: C.className, label: make?.wraps ? `${exportName}(SGD)` : exportName, make });
    if (C === wo.SGD) {
      list.push({ key: 'SGD+momentum', className: 'SGD', label: 'SGD (momentum 0.9)', make: () => new wo.SGD({ momentum: 0.9 }) });
    }
  }
  return list;
}

/** `new C({})`, else `new C(new SGD())` (a wrapper), whichever constructs; null when neither does. */
function constructorFor(C) {
  const attempts = [
    [false, () => new C({})],
    [true, () => new C(new wo.SGD())],
  ];
  for (const [wraps, make] of attempts) {
    try {
      const opt = make();
      if (!(opt instanceof wo.Optimizer)) continue;
      opt.dispose();
      return Object.assign(make, { wraps });
    } catch {
      // try the next form
    }
  }
  return null;
}

/**
 * Our optimizer on n elements, three ways: SIMD with the gradient read in place from wasm memory,
 * SIMD with a JS-heap gradient copied in by the library, and the scalar kernels.
 * Also reports `slots`: full-size buffers the optimizer keeps per variable (for the floors).
 */
export function ourDense(entry, n) {
  const heap = wo.defaultHeap();
  const w = new wo.Variable(randomFloats(n, -1, 1, 1), { name: 'w', shape: shapeOf(n) });
  const g = new wo.Variable(randomFloats(n, -1, 1, 2), { name: 'g', shape: shapeOf(n) });
  const gJs = randomFloats(n, -1, 1, 2);
  let opt = null;
  let slots;
  try {
    opt = entry.make();
    const live0 = heap.liveBytes;
    // Build the slots first: a gradient view taken before an allocation that grows the memory is detached.
    opt.prepare([w]);
    slots = Math.round((heap.liveBytes - live0) / (4 * n));
    opt.applyGradients([[g.value, w]]);
    opt.applyGradients([[gJs, w]]); // allocates its copy-in buffer once
  } catch (e) {
    opt?.dispose();
    w.dispose();
    g.dispose();
    throw e;
  }
  const wasmPairs = [[g.value, w]];
  const jsPairs = [[gJs, w]];
  const step = (pairs) => (reps) => {
    for (let r = 0; r < reps; r++) opt.applyGradients(pairs);
  };
  // Views are re-derived outside the timed code in case the memory grew since.
  const fresh = () => {
    if (wasmPairs[0][0].buffer !== heap.memory.buffer) wasmPairs[0][0] = g.value;
  };
  return {
    slots,
    contenders: [
      { id: 'simd', before: () => (fresh(), wo.setSimdEnabled(true)), run: step(wasmPairs) },
      { id: 'scalar', before: () => (fresh(), wo.setSimdEnabled(false)), run: step(wasmPairs) },
      { id: 'simdJsGrad', before: () => wo.setSimdEnabled(true), run: step(jsPairs) },
    ],
    dispose() {
      wo.setSimdEnabled(true);
      opt.dispose();
      w.dispose();
      g.dispose();
    },
  };
}

// ------------------------------------------------------------------ floors

let floorKernels = null;

/** build/floors.wasm instantiated against the optimizer arena's memory. */
function floors() {
  if (!floorKernels) {
    const mod = new WebAssembly.Module(readFileSync(new URL('../../build/floors.wasm', import.meta.url)));
    floorKernels = new WebAssembly.Instance(mod, { env: { memory: wo.defaultHeap().memory } }).exports;
  }
  return floorKernels;
}

const STREAMS = ['stream2r1w', 'stream3r2w', 'stream4r3w', 'stream5r4w'];

/**
 * The per-element arithmetic each optimizer cannot avoid, by class name: one sqrt and one
 * division ('sqrtDiv'), one division ('div'), or nothing costlier than a multiply-add (null).
 * Wrappers are benchmarked around SGD, which needs neither.
 */
const ARITH = {
  SGD: null, Lion: null, Lookahead: null, SWA: null, LossScaleOptimizer: null,
  Adamax: 'div',
  Adam: 'sqrtDiv', AdamW: 'sqrtDiv', Nadam: 'sqrtDiv', RMSprop: 'sqrtDiv', Adagrad: 'sqrtDiv',
  Adadelta: 'sqrtDiv', Ftrl: 'sqrtDiv', Lamb: 'sqrtDiv', Adafactor: 'sqrtDiv', LazyAdam: 'sqrtDiv',
  Yogi: 'sqrtDiv', RAdam: 'sqrtDiv',
  // optax-optimizers (Adopt: a sqrt and a division per element too)
  Adan: 'sqrtDiv', Adopt: 'sqrtDiv', AdEMAMix: 'sqrtDiv', Prodigy: 'sqrtDiv',
  // schedule-free: AdamW's sqrt and divisions (RMS step, x = (y - (1-b1) z) / b1); SGD's one division (x),
  // kept a division where Keras and optax divide, so a reciprocal multiply is not the floor.
  ScheduleFreeAdamW: 'sqrtDiv', ScheduleFreeSGD: 'div',
};

/** { arith, known }: an unknown class gets no arithmetic floor and is flagged in the report. */
export function arithOf(entry) {
  const known = Object.prototype.hasOwnProperty.call(ARITH, entry.className);
  return { arith: known ? ARITH[entry.className] : null, known };
}

/**
 * The floors of an optimizer with `slots` full-size slots on n elements: a SIMD stream that reads
 * 2 + slots arrays and writes 1 + slots (its memory traffic), memory.copy over the same number of
 * bytes, and the SIMD arithmetic it cannot avoid ('sqrtDiv', 'div' or none).
 */
export function floorContenders(n, slots, arith) {
  const K = floors();
  const heap = wo.defaultHeap();
  const k = Math.min(slots, STREAMS.length - 1);
  const ptrs = [];
  const alloc = (floats, fill) => {
    const p = heap.alloc(floats * 4);
    ptrs.push(p);
    new Float32Array(heap.memory.buffer, p, floats).set(fill);
    return p;
  };
  // The stream's arrays are one block, so memory.copy can work on the very same bytes.
  const arrays = k + 2;
  const block = alloc(arrays * n, new Float32Array(0));
  const noise = randomFloats(n, -1, 1, 3);
  const [a0, a1, a2, a3, a4] = Array.from({ length: arrays }, (_, i) => {
    new Float32Array(heap.memory.buffer, block + 4 * n * i, n).set(noise);
    return block + 4 * n * i;
  });
  const streamCall = [
    () => K.stream2r1w(a0, a1, n),
    () => K.stream3r2w(a0, a1, a2, n),
    () => K.stream4r3w(a0, a1, a2, a3, n),
    () => K.stream5r4w(a0, a1, a2, a3, a4, n),
  ][k];
  // memory.copy reading and writing as many bytes as the stream ((2+k) reads + (1+k) writes of 4n
  // bytes) inside the same block: a forward, overlapping move from the block's end to its start.
  const copyBytes = ((3 + 2 * k) * 4 * n) / 2;
  const src = block + arrays * 4 * n - copyBytes;
  const dst = block;
  const contenders = [
    { id: 'floorStream', run: (reps) => { for (let r = 0; r < reps; r++) streamCall(); } },
    { id: 'floorCopy', run: (reps) => { for (let r = 0; r < reps; r++) K.memcopy(dst, src, copyBytes); } },
  ];
  if (arith) {
    // The divisor stays a hair above 1 so the dividend neither shrinks to subnormals nor stays constant.
    const a = alloc(n, randomFloats(n, 1, 2, 4));
    const b = alloc(n, new Float32Array(n).fill(arith === 'sqrtDiv' ? 1e-14 : 1e-7));
    const fn = arith === 'sqrtDiv' ? K.sqrtDiv : K.divOnly;
    contenders.push({ id: 'floorArith', run: (reps) => { for (let r = 0; r < reps; r++) fn(a, b, n); } });
  }
  return {
    streamKernel: STREAMS[k],
    copyBytes,
    contenders,
    dispose() {
      for (const p of ptrs) heap.free(p);
    },
  };
}

// ------------------------------------------------------------------ plain JS Adam

/** A straightforward JS Adam (Keras form) over JS-heap Float32Arrays: what a user would write. */
export function jsAdam(n) {
  const p = randomFloats(n, -1, 1, 1);
  const g = randomFloats(n, -1, 1, 2);
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  const lr = 0.001;
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-7;
  let t = 0;
  const step = () => {
    t++;
    const alpha = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    for (let i = 0; i < n; i++) {
      const gi = g[i];
      const mi = (m[i] += (gi - m[i]) * (1 - b1));
      const vi = (v[i] += (gi * gi - v[i]) * (1 - b2));
      p[i] -= (mi * alpha) / (Math.sqrt(vi) + eps);
    }
  };
  return { id: 'js', run: (reps) => { for (let r = 0; r < reps; r++) step(); } };
}

// ------------------------------------------------------------------ tfjs

let tfCache = null;

/** tfjs-core with the cpu and wasm backends registered (CommonJS mains, as the package ships). */
export function tfjs() {
  if (!tfCache) {
    const tf = require('@tensorflow/tfjs-core');
    require('@tensorflow/tfjs-backend-cpu');
    require('@tensorflow/tfjs-backend-wasm');
    const cpu = tf.findBackend('cpu');
    if (cpu) cpu.firstUse = false; // silences its "install tfjs-node" banner
    tfCache = tf;
  }
  return tfCache;
}

/** tf.train.* counterparts of our optimizers, with the same hyper-parameters. */
const tfMatch = (tfName, make) => Object.assign(make, { tfName });
export const TF_MATCH = {
  SGD: tfMatch('sgd', (tf) => tf.train.sgd(0.01)),
  'SGD+momentum': tfMatch('momentum', (tf) => tf.train.momentum(0.01, 0.9)),
  Adam: tfMatch('adam', (tf) => tf.train.adam(0.001, 0.9, 0.999, 1e-7)),
  RMSprop: tfMatch('rmsprop', (tf) => tf.train.rmsprop(0.001, 0.9, 0, 1e-7)),
  Adadelta: tfMatch('adadelta', (tf) => tf.train.adadelta(0.001, 0.95, 1e-7)),
  Adamax: tfMatch('adamax', (tf) => tf.train.adamax(0.001, 0.9, 0.999, 1e-7)),
  Adagrad: tfMatch('adagrad', (tf) => tf.train.adagrad(0.001, 0.1)),
};

let tfNames = 0;

/** tf.train.<x> stepping a variable of `shape` on `backend` with a fixed gradient tensor (random unless given). */
export async function tfDense(factory, shape, backend, id, gradValues) {
  const tf = tfjs();
  await tf.setBackend(backend);
  const n = shape.reduce((a, b) => a * b, 1);
  const name = `bench_w${tfNames++}`;
  const w = tf.variable(tf.tensor(randomFloats(n, -1, 1, 1), shape), true, name);
  const g = tf.tensor(gradValues ?? randomFloats(n, -1, 1, 2), shape);
  const opt = factory(tf);
  const grads = { [name]: g };
  return {
    id,
    garbage: true,
    before: () => (tf.getBackend() === backend ? undefined : tf.setBackend(backend)),
    run: (reps) => {
      for (let r = 0; r < reps; r++) opt.applyGradients(grads);
    },
    dispose() {
      opt.dispose();
      w.dispose();
      g.dispose();
    },
  };
}
