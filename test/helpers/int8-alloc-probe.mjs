// Proves a steady-state step with 8-bit state allocates nothing, in a fresh process with a 1 MiB
// young generation (see alloc-probe.mjs): zero collections over STEPS steps means fewer than
// 1 MiB / STEPS bytes per step. Prints JSON, one entry per configuration.
// Usage: node --expose-gc --max-semi-space-size=1 int8-alloc-probe.mjs
import { PerformanceObserver } from 'node:perf_hooks';
import { ready, Variable, Adam, AdamW, LazyAdam, SGD, Lion, RMSprop, Adagrad } from '../../build/index.js';
import { rng } from './random.mjs';

await ready();
const STEPS = 20000;
const configs = [
  ['Adam', () => new Adam({ stateDtype: 'int8' }), false],
  ['AdamW amsgrad', () => new AdamW({ amsgrad: true, stateDtype: 'int8' }), false],
  ['LazyAdam sparse', () => new LazyAdam({ stateDtype: 'int8' }), true],
  ['SGD momentum', () => new SGD({ momentum: 0.9, stateDtype: 'int8' }), false],
  ['Lion', () => new Lion({ stateDtype: 'int8' }), false],
  ['RMSprop momentum', () => new RMSprop({ momentum: 0.9, stateDtype: 'int8' }), false],
  ['Adagrad sparse', () => new Adagrad({ stateDtype: 'int8' }), true],
];
const out = [];
for (const [label, make, sparse] of configs) {
  let opt;
  try {
    opt = make();
  } catch (e) {
    out.push({ label, skipped: String(e.message) });
    continue;
  }
  const w = Variable.zeros([64, 80], { name: 'w' });
  const gv = new Variable(rng(1).f32(64 * 80, 0.03), { name: 'g' });
  const sp = { indices: Int32Array.from([1, 9, 33]), values: new Variable(rng(2).f32(3 * 80, 0.03), { name: 's' }).value };
  const pairs = [[sparse ? sp : gv.value, w]]; // made once: the probe itself must not allocate
  const step = () => opt.applyGradients(pairs);
  for (let i = 0; i < 6000; i++) step(); // warm up: build, tier up
  globalThis.gc();
  let collections = 0;
  const obs = new PerformanceObserver((list) => (collections += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < STEPS; i++) step();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  out.push({ label, collections });
  opt.dispose();
}
console.log(JSON.stringify(out));
