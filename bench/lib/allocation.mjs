// Steady-state allocation. Each probe runs in a fresh process, as a training loop does: one
// optimizer class, one hot loop. (In a process that has stepped many optimizer classes, V8's shared
// base-class code is polymorphic and may box a number per step: that is the benchmark's doing, not
// what an application sees.) Per probe: warm-up steps, then five windows of `steps` steps; for each,
// the JS heap growth with no collection in between ("allocated": counts garbage too, valid when a
// PerformanceObserver saw no GC during the window) and from one full GC to the next ("retained"),
// plus the wasm memory size and the arena's live bytes. Allocation is the smallest window (noise only
// adds), retention the largest.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import * as wo from '../../build/index.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Bytes per step of `step()` over `windows` windows of `steps` calls, after `warmup` calls. */
export async function measureAllocation(step, { steps = 10000, warmup = 5000, windows = 5 } = {}) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc (npm run bench does)');
  const gcTimes = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcTimes.push(e.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  const heap = wo.defaultHeap();
  for (let i = 0; i < warmup; i++) step();
  const memBefore = heap.memory.buffer.byteLength;
  const liveBefore = heap.liveBytes;
  const allocated = [];
  const retained = [];
  let gcDuringSteps = 0;
  for (let w = 0; w < windows; w++) {
    globalThis.gc();
    await flush();
    const t0 = performance.now();
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < steps; i++) step();
    const h1 = process.memoryUsage().heapUsed;
    const t1 = performance.now();
    globalThis.gc();
    const h2 = process.memoryUsage().heapUsed;
    await flush();
    const gcs = gcTimes.filter((t) => t >= t0 && t <= t1).length;
    gcDuringSteps += gcs;
    allocated.push(gcs === 0 ? Math.max(0, h1 - h0) / steps : null);
    retained.push((h2 - h0) / steps);
  }
  observer.disconnect();
  const valid = allocated.filter((x) => x !== null).sort((a, b) => a - b);
  return {
    steps,
    windows,
    // The smallest window: a per-step allocation shows in every window, background noise does not.
    jsAllocatedBytesPerStep: valid.length ? valid[0] : null,
    jsAllocatedWindows: allocated,
    // The largest window, never below 0: a leak shows as growth that survives a full GC.
    jsRetainedBytesPerStep: Math.max(0, ...retained),
    gcDuringSteps,
    wasmMemoryBefore: memBefore,
    wasmMemoryAfter: heap.memory.buffer.byteLength,
    arenaLiveBefore: liveBefore,
    arenaLiveAfter: heap.liveBytes,
  };
}

/**
 * One probe: optimizer `key` (as listed by discoverOptimizers) on n elements, gradient 'wasm'
 * (a view of wasm memory), 'js' (a JS-heap array, copied in) or 'sparse', SIMD or scalar kernels.
 */
async function probe(key, gradKind, simd, n, steps) {
  const { discoverOptimizers, shapeOf } = await import('./contenders.mjs');
  await wo.ready();
  const entry = discoverOptimizers().find((e) => e.key === key);
  if (!entry?.make) throw new Error(`no optimizer '${key}'`);
  const heap = wo.defaultHeap();
  const shape = shapeOf(n);
  const w = new wo.Variable(new Float32Array(n).fill(0.5), { name: 'w', shape });
  const g = new wo.Variable(new Float32Array(n).fill(0.25), { name: 'g', shape });
  const rowSize = n / shape[0];
  const rows = Math.min(shape[0], 7);
  // Row indices with a duplicate, so de-duplication does real work.
  const sparse = { indices: Int32Array.from({ length: rows + 1 }, (_, i) => i % rows), values: new Float32Array((rows + 1) * rowSize).fill(0.1) };
  const live0 = heap.liveBytes;
  const opt = entry.make();
  opt.prepare([w]);
  const grad = gradKind === 'js' ? g.value.slice() : gradKind === 'sparse' ? sparse : null;
  opt.applyGradients([[grad ?? g.value, w]]); // first-step work (copy-in buffers, scratch)
  const pairs = [[grad ?? g.value, w]];
  wo.setSimdEnabled(simd);
  const r = await measureAllocation(() => opt.applyGradients(pairs), { steps });
  wo.setSimdEnabled(true);
  opt.dispose();
  const leftAfterDispose = heap.liveBytes - live0;
  return { label: entry.label, key, gradient: gradKind, simd, elements: n, ...r, bytesLeftAfterDispose: leftAfterDispose };
}

/** Runs a probe in a fresh Node process and returns its result (key 'baseline': an empty loop). */
export function probeInChild(key, gradKind, simd, { n = 1e4, steps = 10000 } = {}) {
  const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), key, gradKind, simd ? 'simd' : 'scalar', String(n), String(steps)], {
    encoding: 'utf8',
  });
  if (child.status !== 0) return { label: key, key, gradient: gradKind, simd, error: (child.stderr || `exit ${child.status}`).trim().split('\n').slice(-3).join(' ') };
  return JSON.parse(child.stdout.trim().split('\n').pop());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [key, gradKind, kernels, n, steps] = process.argv.slice(2);
  await wo.ready();
  const r = key === 'baseline'
    ? { label: 'empty loop', ...(await measureAllocation(() => {}, { steps: Number(steps) })) }
    : await probe(key, gradKind, kernels !== 'scalar', Number(n), Number(steps));
  console.log(JSON.stringify(r));
}
