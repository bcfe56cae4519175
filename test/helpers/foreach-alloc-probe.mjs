// Proves the foreach kernels (kernels.mul ... kernels.sign) allocate nothing per call, in a fresh
// process as alloc-probe.mjs does for steps: a 1 MiB young generation and CALLS rounds of every
// call; zero collections means under 1 MiB / (CALLS * 11) bytes per call. Prints JSON.
// Usage: node --expose-gc --max-semi-space-size=1 foreach-alloc-probe.mjs
import { PerformanceObserver } from 'node:perf_hooks';
import { ready, Variable, kernels, defaultHeap } from '../../build/index.js';

await ready();
const CALLS = 100000;
const n = 37;
const make = (name, v) => new Variable(Float32Array.from({ length: n }, (_, i) => v + (i % 5) * 0.01), { name });
const vx = make('x', 1);
const vy = make('y', 1.0001);
const vt = make('t', 0.999);
const vw = make('w', 0.25);
const x = vx.value;
const y = vy.value;
const t = vt.value;
const w = vw.value;

function round() {
  kernels.mul(x, y);
  kernels.mul(x, 0.999);
  kernels.div(x, y);
  kernels.div(x, 0.999);
  kernels.sqrt(t);
  kernels.addcmul(x, y, t, 1e-3);
  kernels.addcdiv(x, y, t, -1e-3);
  kernels.lerp(x, y, 0.1);
  kernels.lerp(x, t, w);
  kernels.maximum(x, t);
  kernels.sign(w);
  kernels.fill(w, 0.25);
  kernels.fill(t, 0.999);
}

for (let i = 0; i < 20000; i++) round(); // warm-up: JIT
let collections = 0;
const obs = new PerformanceObserver((list) => {
  collections += list.getEntries().length;
});
globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 10));
obs.observe({ entryTypes: ['gc'] });
const mem = defaultHeap().memory.buffer.byteLength;
const h0 = process.memoryUsage().heapUsed;
for (let i = 0; i < CALLS; i++) round();
const heapPerRound = (process.memoryUsage().heapUsed - h0) / CALLS;
await new Promise((resolve) => setTimeout(resolve, 10));
obs.disconnect();
console.log(JSON.stringify({ rounds: CALLS, collections, heapPerRound, wasmGrowth: defaultHeap().memory.buffer.byteLength - mem }));
