// Why one thread on the threaded arena sometimes steps Adam 1e7 slower than on the plain arena
// (docs/threads.md, Speed): `node bench/threads-memory.mjs [processes]`. Each fresh process steps
// Adam at 1e7 through the public API, 200 times, on the plain arena (ready()) or on the threaded one
// limited to one thread (ready({ threads: 2 }) + limitThreads(1)), and prints its median; then one
// process times the raw `adam` kernel of optim.wasm on a plain memory and of optim-threads.wasm on
// a shared memory, alternating. Medians per process spread over the same values on both arenas.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const n = 1e7;
const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];

async function stepMedian(threaded) {
  const wo = await import('../build/index.js');
  const { limitThreads } = await import('../build/threads.js');
  if (threaded) await wo.ready({ threads: 2, minElements: 4 });
  else await wo.ready();
  const w = new wo.Variable(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
  const g = new wo.Variable(Float32Array.from({ length: n }, (_, i) => Math.cos(i)));
  const opt = new wo.Adam();
  opt.applyGradients([[g.value, w]]); // builds the slots (the plain arena grows: views re-derived below)
  const pairs = [[g.value, w]];
  if (threaded) limitThreads(1);
  const t = [];
  for (let k = 0; k < 200; k++) {
    const t0 = performance.now();
    opt.applyGradients(pairs);
    t.push(performance.now() - t0);
  }
  if (threaded) wo.shutdownThreads();
  return med(t);
}

function rawKernels() {
  const pages = Math.ceil((16 * n + 65536) / 65536) + 1;
  const make = (file, shared) => {
    const memory = new WebAssembly.Memory(shared ? { initial: pages, maximum: 65536, shared: true } : { initial: pages });
    const K = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL(`../build/${file}`, import.meta.url))), { env: { memory } }).exports;
    new Float32Array(memory.buffer, 65536, 4 * n).fill(1e-3);
    return () => K.adam(65536, 65536 + 4 * n, 65536 + 8 * n, 65536 + 12 * n, n, 0.1, 0.001, 1e-3, 1e-7, 0);
  };
  const runs = [['plain memory (optim.wasm)', make('optim.wasm', false)], ['shared memory (optim-threads.wasm)', make('optim-threads.wasm', true)]];
  const t = runs.map(() => []);
  for (let k = 0; k < 10; k++) runs.forEach(([, run], i) => { for (let r = 0; r < 8; r++) { const t0 = performance.now(); run(); t[i].push(performance.now() - t0); } });
  return runs.map(([label], i) => `${label} ${med(t[i]).toFixed(3)} ms`).join(', ');
}

const mode = process.argv[2];
if (mode === 'plain' || mode === 'threaded') {
  console.log((await stepMedian(mode === 'threaded')).toFixed(3));
} else {
  const count = Number(mode ?? 6);
  const self = fileURLToPath(import.meta.url);
  for (const m of ['plain', 'threaded']) {
    const ms = [];
    for (let i = 0; i < count; i++) ms.push(spawnSync(process.execPath, [self, m], { encoding: 'utf8' }).stdout.trim());
    console.log(`Adam 1e7, one thread, ${m} arena, median of each fresh process: ${ms.join(' / ')} ms`);
  }
  console.log(`raw adam kernel, one process, alternating: ${rawKernels()}`);
}
