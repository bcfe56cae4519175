// Child process of test/threads.test.mjs: trains every optimizer whose kernel is split across
// threads, through the public API, and prints a hash of the weights and the saved state per case.
// argv: threads (0 = plain ready(), no thread machinery), minElements (0 = the default), simd (1/0).
import * as W from '../../build/index.js';
import { threadSplitCounts } from '../../build/threads.js';

const [threadsArg, minArg, simdArg] = process.argv.slice(2).map(Number);
if (threadsArg === 0) await W.ready();
else await W.ready(minArg ? { threads: threadsArg, minElements: minArg } : { threads: threadsArg });
if (simdArg === 0) W.setSimdEnabled(false);

const { Variable, LossScaleOptimizer, kernels } = W;

// FNV-1a over the bytes: any bit that differs changes the hash.
function hash(bytes, h = 0x811c9dc5) {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 16777619) >>> 0;
  return h;
}
const u8 = (f) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength);

// Deterministic values with a spread of magnitudes and signs (no Math.random).
function values(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) - 0.5) * (1 + (i % 7));
  }
  return out;
}

// Sizes: below, at and above the split threshold, odd tails, more than one sumSquares block.
const SIZES = [1, 3, 1023, 4099, 65537, 300001];
const cls = (name) => W[name];
const CASES = [
  ['Adam', {}], ['Adam', { amsgrad: true }], ['AdamW', { weightDecay: 0.01 }],
  ['SGD', {}], ['SGD', { momentum: 0.9, nesterov: true }], ['SGD', { momentum: 0.5 }],
  ['RMSprop', {}], ['RMSprop', { centered: true, momentum: 0.9 }],
  ['Adagrad', {}], ['Adadelta', { learningRate: 1 }], ['Adamax', {}], ['Nadam', {}], ['Lion', {}],
  ['Ftrl', { l1RegularizationStrength: 0.01, l2ShrinkageRegularizationStrength: 0.01 }],
  ['Yogi', {}], ['RAdam', {}], ['RAdam', { amsgrad: true }],
  ['Adan', {}], ['Adan', { weightDecay: 0.02 }], ['AdEMAMix', {}], ['AdEMAMix', { weightDecay: 0.02 }],
  ['Adopt', {}], ['Adopt', { nesterov: true }], ['ScheduleFreeAdamW', { warmupSteps: 2 }],
  ['ScheduleFreeSGD', { weightDecay: 0.01 }], ['Lamb', {}], ['Prodigy', {}], ['Prodigy', { weightDecay: 0.01 }],
  // The base pipeline's primitives: clipping (scaleCopy, sumSquares), clipvalue, decay, EMA (ema, copy),
  // finiteness (allFinite), accumulation (axpy / fill / copy).
  ['Adam', { globalClipnorm: 1 }], ['Adam', { clipnorm: 0.5 }], ['Adam', { clipvalue: 0.1 }],
  ['AdamW', { weightDecay: 0.05, useEma: true, emaOverwriteFrequency: 2 }],
  ['Adam', { skipNonFinite: true }], ['SGD', { momentum: 0.9, gradientAccumulationSteps: 2 }],
  ['Lion', { globalClipnorm: 0.5, weightDecay: 0.1 }],
  ['LossScale(Adam)', {}],
  // The fused pipeline (docs/pipeline.md): decay, clip factor and EMA in one split kernel; a
  // LossScaleOptimizer's division by a scale that is not a power of two (below 1: allFiniteDiv).
  ['AdamW', { weightDecay: 0.05, globalClipnorm: 1, useEma: true }],
  ['LossScale(Adam)', { initialScale: 3 }], ['LossScale(Adam)', { initialScale: 0.75 }],
  // The separate passes (a subclass with its own updateStep): clipByValue, scaleCopy, decay, ema;
  // divCopy (a LossScaleOptimizer's division into the inner optimizer's buffer).
  ['Plain(AdamW)', { weightDecay: 0.05, useEma: true, clipvalue: 0.1, lossScaleFactor: 4 }], ['LossScale(Plain(Adam))', {}],
];

/** The class with its own updateStep: the base class runs the pipeline as separate passes. */
const plain = (C) => class extends C {
  updateStep(g, v, lr) {
    super.updateStep(g, v, lr);
  }
};

const out = {};
for (const [name, options] of CASES) {
  const vars = SIZES.map((n, k) => new Variable(values(n, 7 + k)));
  const grads = SIZES.map((n, k) => new Variable(values(n, 1000 + k)));
  let opt;
  if (name === 'LossScale(Adam)') opt = new LossScaleOptimizer(new W.Adam(), { initialScale: 8, dynamicGrowthSteps: 2, ...options });
  else if (name === 'Plain(AdamW)') opt = new (plain(W.AdamW))(options);
  else if (name === 'LossScale(Plain(Adam))') opt = new LossScaleOptimizer(new (plain(W.Adam))(), { initialScale: 8, dynamicGrowthSteps: 2 });
  else opt = new (cls(name))(options);
  for (let step = 0; step < 4; step++) {
    // Gradients change per step; one step has a non-finite value for skipNonFinite / LossScale.
    for (let k = 0; k < grads.length; k++) grads[k].value.set(values(SIZES[k], 1000 + k + 31 * step));
    if (step === 2) grads[5].value[123457] = Infinity;
    opt.applyGradients(grads.map((g, k) => [g.value, vars[k]]));
  }
  // Schedule-free: the evaluation point too (scheduleFreeEval), then back.
  if (typeof opt.evalParams === 'function') {
    opt.evalParams();
    for (const v of vars) out[`${name} eval`] = hash(u8(v.value), out[`${name} eval`] ?? 0x811c9dc5);
    opt.trainParams();
  }
  let h = 0x811c9dc5;
  for (const v of vars) h = hash(u8(v.value), h);
  h = hash(opt.saveState(), h);
  out[`${name} ${JSON.stringify(options)}`] = h;
  opt.dispose();
  for (const v of [...vars, ...grads]) v.dispose();
}

// kernels.* primitives (the foreach family, axpy) over views of wasm memory.
{
  const n = 100003;
  const [x, t1, t2, wv] = [1, 2, 3, 4].map((k) => new Variable(values(n, 50 + k)));
  kernels.axpy(x.value, t1.value, 0.5);
  kernels.addcmul(x.value, t1.value, t2.value, 0.25);
  kernels.addcdiv(x.value, t1.value, t2.value, 0.125);
  kernels.lerp(x.value, t1.value, 0.3);
  kernels.lerp(x.value, t2.value, wv.value);
  kernels.mul(x.value, t1.value);
  kernels.div(x.value, t2.value);
  kernels.maximum(x.value, wv.value);
  kernels.scale(t1.value, 3);
  kernels.sqrt(t1.value);
  kernels.sign(t2.value);
  kernels.fill(wv.value, 0.5);
  kernels.clipByValue(x.value, 0.75);
  kernels.ema(x.value, t2.value, 0.9);
  kernels.copy(t2.value, wv.value);
  out['kernels.* sums'] = [kernels.sumSquares(x.value), kernels.allFinite(x.value), kernels.sumSquares(t1.value)];
  out['kernels.*'] = [hash(u8(x.value)), hash(u8(t1.value)), hash(u8(t2.value)), hash(u8(wv.value))];
}

// kernel(): on a threaded arena the generated module is compiled with a shared memory import and
// runs on the calling thread; a precompiled module (unshared import) runs the fallback there.
{
  const { KERNEL_SPECS, reductionSpec } = await import('../runtimes/kernel-subset.mjs');
  const n = 70001;
  const modes = {};
  for (const [label, make] of [
    ['compiled', () => W.kernel(KERNEL_SPECS.adabelief)],
    ['fallback', () => W.kernel({ ...KERNEL_SPECS.adabelief, compile: false })],
    ['precompiled', () => W.kernel(KERNEL_SPECS.adabelief).fromModule(new WebAssembly.Module(W.kernel(KERNEL_SPECS.adabelief).toBytes()))],
  ]) {
    const k = make();
    const [w, g, m, sv] = [1, 2, 3, 4].map((j) => new Variable(values(n, 70 + j)));
    for (let step = 0; step < 3; step++) k.run({ w, g, m, s: sv }, { omb1: 0.1, omb2: 0.001, eps: 1e-16, stepSize: 0.01, epsHat: 1e-8 });
    out[`kernel() adabelief`] ??= [];
    out[`kernel() adabelief`].push(hash(u8(w.value), hash(u8(m.value), hash(u8(sv.value)))));
    modes[label] = k.mode;
    const r = W.kernel({ ...reductionSpec('sumOfSquares'), compile: label !== 'fallback' });
    out[`kernel() sumOfSquares`] ??= [];
    out[`kernel() sumOfSquares`].push(r.run({ x: g, y: m }));
    for (const v of [w, g, m, sv]) v.dispose();
  }
  out['kernel() modes'] = modes;
}

console.log(JSON.stringify({ threads: W.threadCount(), reason: W.threadFallbackReason(), hashes: out, splits: Object.fromEntries(threadSplitCounts()) }));
