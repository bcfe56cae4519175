// A MultiOptimizer's steady-state step allocates nothing (see alloc-probe.mjs for the method):
// STEPS steps with a 1 MiB young generation and zero garbage collections. Prints JSON.
// Usage: node --expose-gc --max-semi-space-size=1 multi-alloc-probe.mjs <config index>
import { PerformanceObserver } from 'node:perf_hooks';
import { ready, Variable, Adam, SGD, MultiOptimizer, OptimizerMap } from '../../build/index.js';
import { rng } from './random.mjs';

await ready();
const STEPS = 200000;
const configs = [
  ['two groups, dense (wasm views and JS arrays)', {}],
  ['two groups, sparse rows + global clipping + loss scale', { globalClipnorm: 0.5, lossScaleFactor: 8 }],
  ['two groups, gradients aliasing a routed variable (copied)', {}],
  ['two groups, sparse rows', {}],
  ['two groups, dense + global clipping + loss scale', { globalClipnorm: 0.5, lossScaleFactor: 8 }],
];
const index = Number(process.argv[2] ?? 0);
const [label, options] = configs[index];
const opt = new MultiOptimizer(new OptimizerMap(new Adam(), { 'enc/.*': new SGD({ momentum: 0.9 }) }), options);
const w = Variable.zeros([250, 4], { name: 'enc/w' });
const u = Variable.zeros([100], { name: 'head/u' });
const gv = new Variable(rng(1).f32(1000, 0.03), { name: 'g' });
opt.prepare([w, u]);
const r = rng(2);
const gw = index === 1 || index === 3
  ? { indices: Int32Array.from({ length: 40 }, (_, i) => (i % 8 === 0 ? 3 : r.int(250))), values: r.f32(160, 0.03) }
  : gv.value;
const gu = index === 2 ? w.value.subarray(0, 100) : r.f32(100, 0.03);
const pairs = [[gw, w], [gu, u]];
for (let i = 0; i < 20000; i++) opt.applyGradients(pairs); // warm-up
let collections = 0;
const obs = new PerformanceObserver((list) => {
  collections += list.getEntries().length;
});
globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 10));
obs.observe({ entryTypes: ['gc'] });
const h0 = process.memoryUsage().heapUsed;
for (let i = 0; i < STEPS; i++) opt.applyGradients(pairs);
const heapPerStep = (process.memoryUsage().heapUsed - h0) / STEPS;
await new Promise((resolve) => setTimeout(resolve, 10));
obs.disconnect();
console.log(JSON.stringify({ label, steps: STEPS, collections, heapPerStep }));
