// Proves kernel().run allocates nothing per call, in a fresh process with a 1 MiB young generation
// (see alloc-probe.mjs): counts garbage collections over many calls. Prints JSON.
// Usage: node --expose-gc --max-semi-space-size=1 alloc-probe-kernel.mjs <compiled|fallback|reduce|reduce-fallback>
import { PerformanceObserver } from 'node:perf_hooks';
import { ready, Variable, kernel } from '../../build/index.js';

await ready();
const which = process.argv[2] ?? 'compiled';
const CALLS = 200000;
const compile = !which.includes('fallback');
const adam = kernel({
  name: 'adam', compile,
  arrays: { w: 'inout', g: 'in', m: 'inout', v: 'inout' },
  scalars: ['omb1', 'omb2', 'alpha', 'eps'],
  body: ({ w, g, m, v }, { omb1, omb2, alpha, eps }) => {
    const m1 = m.add(g.sub(m).mul(omb1));
    const v1 = v.add(g.mul(g).sub(v).mul(omb2));
    return { m: m1, v: v1, w: w.sub(m1.mul(alpha).div(v1.sqrt().add(eps))) };
  },
});
const norm = kernel({ name: 'norm', compile, arrays: { g: 'in' }, reduce: 'sumOfSquares', body: ({ g }) => g });
const n = 1000;
const w = Variable.zeros([n]), m = Variable.zeros([n]), v = Variable.zeros([n]);
const g = new Variable(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
// The argument objects are made once and reused: a call's own work must allocate nothing.
const arrays = { w, g: g.value, m, v };
const scalars = { omb1: 0.1, omb2: 0.001, alpha: 0.001, eps: 1e-7 };
const normArgs = { g };
let sink = 0;
const call = which.startsWith("reduce") ? () => norm.run(normArgs) : () => adam.run(arrays, scalars);
for (let i = 0; i < 20000; i++) call();
let collections = 0;
const obs = new PerformanceObserver((list) => { collections += list.getEntries().length; });
globalThis.gc();
await new Promise((r) => setTimeout(r, 10));
obs.observe({ entryTypes: ['gc'] });
const h0 = process.memoryUsage().heapUsed;
for (let i = 0; i < CALLS; i++) sink = call();
const heapPerCall = (process.memoryUsage().heapUsed - h0) / CALLS;
await new Promise((r) => setTimeout(r, 10));
obs.disconnect();
console.log(JSON.stringify({ which, mode: adam.mode, calls: CALLS, collections, heapPerCall, sink: Number.isFinite(sink) }));
