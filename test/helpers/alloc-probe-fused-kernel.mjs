// Proves a pipeline kernel's run with the step pipeline's record allocates nothing per call, in a
// fresh process with a 1 MiB young generation (see alloc-probe-kernel.mjs). Prints JSON.
// Usage: node --expose-gc --max-semi-space-size=1 alloc-probe-fused-kernel.mjs <compiled|fallback>
import { PerformanceObserver } from 'node:perf_hooks';
import { defaultHeap, kernel, ready, Variable } from '../../build/index.js';

await ready();
const which = process.argv[2] ?? 'compiled';
const CALLS = 200000;
const adam = kernel({
  name: 'adam', compile: which !== 'fallback',
  arrays: { w: 'inout', g: 'in', m: 'inout', v: 'inout' },
  scalars: ['omb1', 'omb2', 'alpha', 'eps'],
  pipeline: { weight: 'w', gradient: 'g' },
  body: ({ w, g, m, v }, { omb1, omb2, alpha, eps }) => {
    const m1 = m.add(g.sub(m).mul(omb1));
    const v1 = v.add(g.mul(g).sub(v).mul(omb2));
    return { m: m1, v: v1, w: w.sub(m1.mul(alpha).div(v1.sqrt().add(eps))) };
  },
});
const n = 1000;
const w = Variable.zeros([n]), m = Variable.zeros([n]), v = Variable.zeros([n]), avg = Variable.zeros([n]);
const g = new Variable(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
// The record, every flag on (unscale by division and multiplication, clamp, clip factor, decay, EMA).
const heap = defaultHeap();
const i32 = new Int32Array(heap.memory.buffer, heap.pipeline, 9);
const f32 = new Float32Array(heap.memory.buffer, heap.pipeline, 9);
i32[0] = 63;
f32.set([1.5, 0.5, 0.3, 0.9, 1e-4, 0.99, 0.01], 1);
i32[8] = avg.ptr - w.ptr;
const pl = heap.pipeline;
const arrays = { w, g: g.value, m, v };
const scalars = { omb1: 0.1, omb2: 0.001, alpha: 0.001, eps: 1e-7 };
const call = () => adam.run(arrays, scalars, pl);
for (let i = 0; i < 20000; i++) call();
let collections = 0;
const obs = new PerformanceObserver((list) => { collections += list.getEntries().length; });
globalThis.gc();
await new Promise((r) => setTimeout(r, 10));
obs.observe({ entryTypes: ['gc'] });
const h0 = process.memoryUsage().heapUsed;
for (let i = 0; i < CALLS; i++) call();
const heapPerCall = (process.memoryUsage().heapUsed - h0) / CALLS;
await new Promise((r) => setTimeout(r, 10));
obs.disconnect();
console.log(JSON.stringify({ which, mode: adam.mode, calls: CALLS, collections, heapPerCall, finite: Number.isFinite(w.value[0]) }));
