// A kernel worker for ready({ threads }): its own instance of the shared-memory kernel module over
// the main thread's memory. It never allocates in that memory: woken for a job, it claims and runs
// chunks until none is left (src/thread-chunk.ts), then sleeps. Works as a Node worker_threads
// worker and as a web Worker (Deno, Bun, browsers).
import { claim, runChunk, type ChunkRunner } from './thread-chunk.js';
import { ACTIVE, CHUNKS, CLAIM, DONE, ERROR, MESSAGE_BYTES, OP, OP_PROBE, QUIT, SEQ, SIMD, type WorkerInit } from './thread-protocol.js';

// A specifier bundlers do not follow: browser builds must not try to resolve it.
const NODE_WT = 'node:worker_threads';

type Fn = (...args: number[]) => number;

interface Port {
  postMessage(message: unknown): void;
}

function run(init: WorkerInit, port: Port): void {
  const inst = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const ex = inst.exports as Record<string, Fn>;
  const ctrl = new Int32Array(init.control);
  const r: ChunkRunner = {
    ctrl,
    partials: new Float64Array(init.partials),
    runKernel: ex.runKernel,
    sumSquares: ex.sumSquares,
    scaleCopy: ex.scaleCopy,
    block: ex.sumSquaresBlock(),
  };
  const message = new Uint8Array(init.messages, init.index * MESSAGE_BYTES, MESSAGE_BYTES);
  const state = { simd: 1 };
  // Read before saying ready: the first job may be posted as soon as the main thread hears it.
  let seen = Atomics.load(ctrl, SEQ);
  port.postMessage('ready');
  // The loop only calls small functions: they are optimized after a few jobs, whereas code in a
  // loop that never returns waits for on-stack replacement (the first jobs ran several times slower).
  for (;;) {
    seen = nextJob(ctrl, seen);
    if (Atomics.load(ctrl, QUIT) !== 0) return;
    if (init.index < Atomics.load(ctrl, ACTIVE)) serve(r, ex, state, message, init.index);
  }
}

/** Waits for SEQ to move past `seen` (a short spin, then Atomics.wait); returns it. */
function nextJob(ctrl: Int32Array, seen: number): number {
  // A short spin first: the jobs of one step come back to back, and waking from a wait is slow.
  for (let spin = 0; spin < 20000 && Atomics.load(ctrl, SEQ) === seen; spin++);
  while (Atomics.load(ctrl, SEQ) === seen) Atomics.wait(ctrl, SEQ, seen);
  return Atomics.load(ctrl, SEQ);
}

/** Claims and runs chunks of the current job until none is left. */
function serve(r: ChunkRunner, ex: Record<string, Fn>, state: { simd: number }, message: Uint8Array, index: number): void {
  const ctrl = r.ctrl;
  const on = Atomics.load(ctrl, SIMD);
  if (on !== state.simd) ex.setSimd((state.simd = on));
  // The job's seq as the claim word carries it (SEQ itself only ever grows).
  const tag = (Atomics.load(ctrl, CLAIM) >>> 16) & 0x7fff;
  for (let k = claim(ctrl, tag); k >= 0; k = claim(ctrl, tag)) {
    // Read while this chunk is unfinished: the job (and these fields) cannot change before it is.
    const chunks = ctrl[CHUNKS];
    const probe = ctrl[OP] === OP_PROBE;
    try {
      runChunk(r, k);
    } catch (e) {
      if (Atomics.compareExchange(ctrl, ERROR, 0, index + 1) === 0) {
        const text = new TextEncoder().encode(String((e as { message?: unknown } | null)?.message ?? e)).subarray(0, MESSAGE_BYTES - 1);
        message.fill(0);
        message.set(text);
      }
    }
    if (Atomics.add(ctrl, DONE, 1) + 1 === chunks) Atomics.notify(ctrl, DONE);
    if (probe) break; // one chunk each, so every worker must answer
  }
}

interface WebScope {
  addEventListener(type: 'message', fn: (e: { data: WorkerInit }) => void, options?: { once: boolean }): void;
  postMessage(message: unknown): void;
}

if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined') {
  const scope = globalThis as unknown as WebScope;
  scope.addEventListener('message', (e) => run(e.data, scope), { once: true });
} else {
  const wt = (await import(/* webpackIgnore: true */ /* @vite-ignore */ NODE_WT)) as {
    parentPort: { once(type: 'message', fn: (data: WorkerInit) => void): void; postMessage(m: unknown): void } | null;
  };
  const port = wt.parentPort;
  if (port) port.once('message', (data) => run(data, port));
}
