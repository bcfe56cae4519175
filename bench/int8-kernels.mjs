// Raw-kernel timings of the 8-bit optimizer steps against their float32 kernels (best of N calls,
// build/optim.wasm called directly, no TypeScript in between): `node bench/int8-kernels.mjs [n...]`.
// The machine may be shared: best-of-N is the figure least disturbed by other jobs.
import { readFileSync } from 'node:fs';

const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
if (sizes.length === 0) sizes.push(1e6, 1e7);
const module = new WebAssembly.Module(readFileSync(new URL('../build/optim.wasm', import.meta.url)));

for (const n of sizes) {
  const seg = Number(process.env.SEG ?? 1000); // rows of 1,000 as the int8 bench section (blocks never straddle a row)
  const blocks = (n / seg) * Math.ceil(seg / 256);
  const slotBytes = 1024 + ((blocks * 4 + 15) & ~15) + n;
  const bytes = 4 * n * 4 + 3 * slotBytes + 64 * 1024;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) + 2 });
  const K = new WebAssembly.Instance(module, { env: { memory } }).exports;
  let top = 1024;
  const alloc = (b) => ((top = (top + 15) & ~15), (top += b), top - b);
  const p = alloc(4 * n), g = alloc(4 * n), mF = alloc(4 * n), vF = alloc(4 * n);
  const mQ = alloc(slotBytes), vQ = alloc(slotBytes);
  const f = (ptr) => new Float32Array(memory.buffer, ptr, n);
  let s = 1;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) { f(p)[i] = rnd() * 2 - 1; f(g)[i] = (rnd() - 0.5) * 0.02; f(mF)[i] = (rnd() - 0.5) * 0.002; f(vF)[i] = rnd() * 1e-4; }
  K.quantizeSlot(mQ, mF, n, seg, 1);
  K.quantizeSlot(vQ, vF, n, seg, 0);
  const reps = n >= 1e7 ? 15 : 60;
  const best = (fn) => {
    let b = Infinity;
    for (let r = 0; r < reps; r++) { const t0 = performance.now(); fn(r + 1); b = Math.min(b, performance.now() - t0); }
    return b;
  };
  const rows = [
    ['Adam', () => K.adam(p, g, mF, vF, n, 0.1, 0.001, 1e-3, 1e-7), (t) => K.adamInt8(p, g, mQ, vQ, n, seg, 0.1, 0.001, 1e-3, 1e-7, Math.imul(t, 0x632be5ab) & 0x3fffffff)],
    ['SGD momentum', () => K.sgdMomentum(p, g, mF, n, 0.01, 0.9, 0), () => K.sgdMomentumInt8(p, g, mQ, n, seg, 0.01, 0.9, 0)],
    ['Lion', () => K.lion(p, g, mF, n, 0.9, 0.1, 0.99, 0.01, 1e-4), (t) => K.lionInt8(p, g, mQ, n, seg, 0.9, 0.1, 0.99, 0.01, 1e-4, t * 7919)],
    ['RMSprop', () => K.rmsprop(p, g, vF, 0, 0, n, 0.9, 0.1, 1e-3, 1e-7, 0), (t) => K.rmspropInt8(p, g, vQ, 0, n, seg, 0.9, 0.1, 1e-3, 1e-7, 0, t * 7919)],
    ['Adagrad', () => K.adagrad(p, g, vF, n, 1e-3, 1e-7), (t) => K.adagradInt8(p, g, vQ, n, seg, 1e-3, 1e-7, t * 7919)],
  ];
  for (const [name, f32, i8] of rows) {
    if (n > 1e6 && name !== 'Adam') continue;
    // interleave to share the machine's load between both
    let a = Infinity, b = Infinity;
    for (let k = 0; k < 3; k++) { a = Math.min(a, best(f32)); b = Math.min(b, best(i8)); }
    console.log(`${name.padEnd(13)} n=${n.toExponential(0)}  float32 ${a.toFixed(3)} ms  int8 ${b.toFixed(3)} ms  ratio ${(b / a).toFixed(2)}x`);
  }
}
