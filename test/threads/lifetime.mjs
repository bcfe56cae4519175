// Child process of test/threads.test.mjs: worker lifetime. argv[2] picks the scenario; each prints
// one JSON line. The process must exit by itself (the parent kills it after a timeout otherwise).
import * as W from '../../build/index.js';
import { threadWorkersForTesting } from '../../build/threads.js';

const { Variable, Adam, defaultHeap } = W;
const scenario = process.argv[2];
const n = 300001;
const fill = (k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k));
const msg = (e) => String(e?.message ?? e);

if (scenario === 'exit') {
  // Train with 2 threads and never shut down: Node must still exit when the script ends.
  await W.ready({ threads: 2 });
  const w = new Variable(fill(1));
  const g = new Variable(fill(2));
  const opt = new Adam();
  for (let s = 0; s < 5; s++) opt.applyGradients([[g.value, w]]);
  console.log(JSON.stringify({ threads: W.threadCount(), w0: w.value[7] }));
} else if (scenario === 'shutdown') {
  await W.ready({ threads: 2 });
  const w = new Variable(fill(1));
  const g = new Variable(fill(2));
  const opt = new Adam();
  opt.applyGradients([[g.value, w]]);
  const before = W.threadCount();
  W.shutdownThreads();
  W.shutdownThreads(); // idempotent
  opt.applyGradients([[g.value, w]]);
  console.log(JSON.stringify({ before, after: W.threadCount(), finite: Number.isFinite(w.value[n - 1]) }));
} else if (scenario === 'terminated') {
  // A worker dies while idle and the next steps come before its exit event can be delivered:
  // nobody waits for it (chunks are claimed, and a dead worker claims none), the results are right.
  await W.ready({ threads: 2, minElements: 4 });
  const w = new Variable(fill(1));
  const g = new Variable(fill(2));
  const opt = new Adam();
  opt.applyGradients([[g.value, w]]);
  void threadWorkersForTesting()[0].terminate();
  // Stay busy: the worker stops meanwhile, but its exit event cannot be delivered to this thread.
  for (const until = Date.now() + 300; Date.now() < until; );
  const t0 = Date.now();
  for (let s = 0; s < 3; s++) opt.applyGradients([[g.value, w]]);
  const ms = Date.now() - t0;
  const hash = Array.from(w.value.subarray(0, 64)).join();
  // Then the event arrives: the next step says what happened, and kernels run on one thread.
  await new Promise((r) => setTimeout(r, 50));
  let error = null;
  try {
    opt.applyGradients([[g.value, w]]);
  } catch (e) {
    error = msg(e);
  }
  const after = W.threadCount();
  opt.applyGradients([[g.value, w]]);
  console.log(JSON.stringify({ ms, hash, error, after, finite: Number.isFinite(w.value[0]) }));
} else if (scenario === 'reference') {
  // The same steps as 'terminated' on one thread.
  await W.ready();
  const w = new Variable(fill(1));
  const g = new Variable(fill(2));
  const opt = new Adam();
  for (let s = 0; s < 4; s++) opt.applyGradients([[g.value, w]]);
  console.log(JSON.stringify({ hash: Array.from(w.value.subarray(0, 64)).join() }));
} else if (scenario === 'timeout') {
  // A worker that does not finish a chunk it claimed within timeoutMs: a clear error, no hang.
  await W.ready({ threads: 2, timeoutMs: 0.001 });
  const big = 10_000_000;
  const w = new Variable(new Float32Array(big).fill(1));
  const g = new Variable(new Float32Array(big).fill(0.5));
  const opt = new Adam();
  let error = null;
  let steps = 0;
  for (; steps < 50 && error === null; steps++) {
    try {
      opt.applyGradients([[g.value, w]]);
    } catch (e) {
      error = msg(e);
    }
  }
  console.log(JSON.stringify({ error, steps, after: W.threadCount() }));
} else if (scenario === 'exited') {
  // A worker dies and its exit event has been delivered before the next step: reported at once.
  await W.ready({ threads: 2 });
  const w = new Variable(fill(1));
  const g = new Variable(fill(2));
  const opt = new Adam();
  await threadWorkersForTesting()[0].terminate();
  await new Promise((r) => setTimeout(r, 50));
  let error = null;
  try {
    opt.applyGradients([[g.value, w]]);
  } catch (e) {
    error = msg(e);
  }
  console.log(JSON.stringify({ error, after: W.threadCount() }));
} else if (scenario === 'trap') {
  // A kernel traps inside a worker's slice (memory access out of bounds): a clear error, no hang.
  await W.ready({ threads: 2 });
  const K = defaultHeap().kernels;
  const end = defaultHeap().memory.buffer.byteLength;
  let error = null;
  try {
    // The worker's slice (the first half) starts past the end of memory; the main thread's is in bounds.
    K.fill(end + 64 * 1024 * 1024, n, 1); // wholly out of bounds: both slices trap
  } catch (e) {
    error = msg(e);
  }
  console.log(JSON.stringify({ error, after: W.threadCount() }));
} else if (scenario === 'grow') {
  // Memory growth: workers see the grown shared memory; results equal the one-thread run.
  const threads = Number(process.argv[3]);
  await W.ready({ threads });
  const w = new Variable(fill(1));
  const g = new Variable(fill(2));
  const opt = new Adam({ globalClipnorm: 1 });
  opt.applyGradients([[g.value, w]]);
  const before = defaultHeap().memory.buffer.byteLength;
  const big = [1, 2, 3].map((k) => new Variable(Float32Array.from({ length: 4_000_000 }, (_, i) => Math.cos(i * k))));
  const bigG = [1, 2, 3].map((k) => new Variable(Float32Array.from({ length: 4_000_000 }, (_, i) => Math.sin(i * k * 0.5))));
  const after = defaultHeap().memory.buffer.byteLength;
  for (let s = 0; s < 2; s++) opt.applyGradients([[g.value, w], ...big.map((v, k) => [bigG[k].value, v])]);
  let h = 0x811c9dc5;
  for (const v of [w, ...big]) {
    const b = new Uint8Array(v.value.buffer, v.value.byteOffset, v.value.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;
  }
  const shared = Object.prototype.toString.call(defaultHeap().memory.buffer);
  console.log(JSON.stringify({ threads: W.threadCount(), grew: after > before, shared, hash: h }));
}
