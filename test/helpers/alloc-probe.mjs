// Proves a steady-state step allocates nothing, in a fresh process (as a training loop runs: one
// hot, monomorphic loop). The probe runs with a 1 MiB young generation (--max-semi-space-size=1)
// and counts garbage collections during STEPS steps: with zero collections, fewer than
// 1 MiB / STEPS bytes can have been allocated per step (< 3 B; one boxed number is 12-16 B).
// heapUsed growth is reported too, for information. Prints JSON.
// Usage: node --expose-gc --max-semi-space-size=1 alloc-probe.mjs <config index> <wasm|js>
import { PerformanceObserver } from 'node:perf_hooks';
import { ready, Variable, Adam, AdamW, SGD, LossScaleOptimizer, defaultHeap, ExponentialDecay, OneCycle, WarmupCosineDecay } from '../../build/index.js';
import { rng } from './random.mjs';

await ready();
const STEPS = 400000;
const configs = [
  ['Adam', () => new Adam(), false],
  ['AdamW + globalClipnorm + EMA', () => new AdamW({ globalClipnorm: 1, useEma: true }), false],
  ['SGD momentum + clipvalue', () => new SGD({ momentum: 0.9, clipvalue: 0.01 }), false],
  ['Adam, sparse rows with duplicates', () => new Adam(), true],
  ['LossScaleOptimizer(SGD)', () => new LossScaleOptimizer(new SGD()), false],
  // Scheduled hyperparameters (5, 6: nothing allocated; 7, 8: a scheduled learning rate, boxed once
  // per step as updateStep's argument; see the core test).
  ['Adam, scheduled beta1 (OneCycle momentum) and weight decay (WarmupCosineDecay)', () => new Adam({ beta1: cycle().momentum(), weightDecay: cosine() }), false],
  ['SGD, scheduled momentum (OneCycle) and weight decay (ExponentialDecay)', () => new SGD({ momentum: cycle().momentum(), weightDecay: exponential() }), false],
  ['Adam, ExponentialDecay learning rate', () => new Adam({ learningRate: exponential() }), false],
  ['SGD, OneCycle learning rate and momentum, ExponentialDecay weight decay', () => new SGD({ learningRate: cycle(), momentum: cycle().momentum(), weightDecay: exponential() }), false],
];
function cycle() {
  return new OneCycle({ maxLearningRate: 0.1, totalSteps: 1e7 });
}
function exponential() {
  return new ExponentialDecay({ initialLearningRate: 0.01, decaySteps: 1000, decayRate: 0.9 });
}
function cosine() {
  return new WarmupCosineDecay({ initialValue: 0, peakValue: 0.01, warmupSteps: 1000, decaySteps: 1e6 });
}
const [label, make, sparse] = configs[Number(process.argv[2] ?? 0)];
const gradInWasm = process.argv[3] !== 'js';
const opt = make();
// Small tensors, many steps: allocation per step shows up as collections.
const w = Variable.zeros([250, 4], { name: 'w' });
const gv = new Variable(rng(1).f32(1000, 0.03), { name: 'g' });
opt.prepare([w]); // build the slots first, then take views: never keep a view across allocations
const r = rng(2);
const g = sparse
  ? { indices: Int32Array.from({ length: 40 }, (_, i) => (i % 8 === 0 ? 3 : r.int(250))), values: r.f32(160, 0.03) }
  : gradInWasm ? gv.value : gv.value.slice();
const pairs = [[g, w]];
for (let i = 0; i < 20000; i++) opt.applyGradients(pairs); // warm-up: JIT and first-step work
let collections = 0;
const obs = new PerformanceObserver((list) => {
  collections += list.getEntries().length;
});
globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 10)); // let the forced GC's entry be delivered first
obs.observe({ entryTypes: ['gc'] });
const mem = defaultHeap().memory.buffer.byteLength;
const h0 = process.memoryUsage().heapUsed;
for (let i = 0; i < STEPS; i++) opt.applyGradients(pairs);
const heapPerStep = (process.memoryUsage().heapUsed - h0) / STEPS;
await new Promise((resolve) => setTimeout(resolve, 10)); // GC entries are delivered asynchronously
obs.disconnect();
console.log(JSON.stringify({ label, gradInWasm: sparse ? null : gradInWasm, steps: STEPS, collections, heapPerStep, wasmGrowth: defaultHeap().memory.buffer.byteLength - mem }));
