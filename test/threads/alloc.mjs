// Child process of test/threads.test.mjs: a steady-state step split across threads allocates
// nothing. Run with a 1 MiB young generation (--max-semi-space-size=1): zero collections during
// STEPS steps means fewer than 1 MiB / STEPS bytes per step (one boxed number is 12-16 B).
import { PerformanceObserver } from 'node:perf_hooks';
import { ready, threadCount, Variable, AdamW, defaultHeap } from '../../build/index.js';
import { threadSplitCounts } from '../../build/threads.js';

await ready({ threads: 2, minElements: 4 });
const STEPS = 60000;
const opt = new AdamW({ globalClipnorm: 1, useEma: true, skipNonFinite: true });
const w = Variable.zeros([250, 4], { name: 'w' });
const g = new Variable(Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.03), { name: 'g' });
opt.prepare([w]);
const pairs = [[g.value, w]];
for (let i = 0; i < 30000; i++) opt.applyGradients(pairs); // warm-up: JIT tiers and first-step work
let collections = 0;
const obs = new PerformanceObserver((list) => {
  collections += list.getEntries().length;
});
globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 10));
obs.observe({ entryTypes: ['gc'] });
const mem = defaultHeap().memory.buffer.byteLength;
const splitsBefore = threadSplitCounts().get('adam') ?? 0;
for (let i = 0; i < STEPS; i++) opt.applyGradients(pairs);
const splits = (threadSplitCounts().get('adam') ?? 0) - splitsBefore;
await new Promise((resolve) => setTimeout(resolve, 10));
obs.disconnect();
console.log(JSON.stringify({ threads: threadCount(), steps: STEPS, splits, collections, wasmGrowth: defaultHeap().memory.buffer.byteLength - mem }));
