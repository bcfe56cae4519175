// Measures JS-heap and wasm-memory growth per steady-state step in a fresh process (as a training
// loop runs: one hot, monomorphic loop). Prints JSON. Run with --expose-gc.
import { ready, Variable, Adam, AdamW, SGD, defaultHeap } from '../../build/index.js';
import { rng } from './random.mjs';

await ready();
const STEPS = 50000;
const results = [];
const configs = [
  ['Adam', () => new Adam()],
  ['AdamW + globalClipnorm + EMA', () => new AdamW({ globalClipnorm: 1, useEma: true })],
  ['SGD momentum + clipvalue', () => new SGD({ momentum: 0.9, clipvalue: 0.01 })],
];
// One configuration per process (argv[2] = index, argv[3] = 'wasm' | 'js'): a process that
// alternates optimizer classes makes the shared base-class code polymorphic, and V8 then boxes
// about one number (16 B) per step.
const pick = Number(process.argv[2] ?? -1);
for (const [ci, [label, make]] of configs.entries()) {
  if (pick >= 0 && ci !== pick) continue;
  for (const gradInWasm of process.argv[3] ? [process.argv[3] === 'wasm'] : [true, false]) {
    const opt = make();
    // Small tensors and many steps: background allocation of the process (timers, GC bookkeeping)
    // is proportional to time, so it must be spread over many fast steps to see per-step bytes.
    const w = Variable.zeros([1000], { name: 'w' });
    const gv = new Variable(rng(1).f32(1000, 0.03), { name: 'g' });
    // Build the slots first, then take the view: a view must not be kept across allocations.
    opt.prepare([w]);
    const pairs = [[gradInWasm ? gv.value : gv.value.slice(), w]];
    for (let i = 0; i < 20000; i++) opt.applyGradients(pairs); // warm-up: JIT and first-step work
    const mem = defaultHeap().memory.buffer.byteLength;
    const windows = [];
    for (let k = 0; k < 3; k++) {
      globalThis.gc();
      const h0 = process.memoryUsage().heapUsed;
      for (let i = 0; i < STEPS; i++) opt.applyGradients(pairs);
      windows.push((process.memoryUsage().heapUsed - h0) / STEPS);
    }
    results.push({ label, gradInWasm, windows, wasmGrowth: defaultHeap().memory.buffer.byteLength - mem });
    opt.dispose();
    w.dispose();
    gv.dispose();
  }
}
console.log(JSON.stringify(results));
export const CONFIG_COUNT = configs.length;
