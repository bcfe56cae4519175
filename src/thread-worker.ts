// A kernel worker for ready({ threads }): its own instance of the shared-memory kernel module over
// the main thread's memory. It never allocates in that memory: it runs the slices it is handed
// (src/threads.ts) and reports through the shared control array. Works as a Node worker_threads
// worker and as a web Worker (Deno, Bun, browsers).
import {
  DONE,
  KERNEL,
  MAX_ARGS,
  MESSAGE_BYTES,
  OP,
  OP_CALL,
  OP_QUIT,
  OP_SIMD,
  OP_SUM_BLOCKS,
  RESULT,
  SEQ,
  STATUS,
  STRIDE,
  type WorkerInit,
} from './thread-protocol.js';

// A specifier bundlers do not follow: browser builds must not try to resolve it.
const NODE_WT = 'node:worker_threads';

type Fn = (...args: number[]) => unknown;

interface Port {
  postMessage(message: unknown): void;
}

function run(init: WorkerInit, port: Port): void {
  const inst = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exportsByName = inst.exports as Record<string, Fn>;
  const fns: Fn[] = init.names.map((n) => exportsByName[n]);
  const sumSquares = exportsByName.sumSquares;
  const setSimd = exportsByName.setSimd;
  const block = (exportsByName.sumSquaresBlock as () => number)();
  const ctrl = new Int32Array(init.control);
  const base = init.index * STRIDE;
  const a = new Float64Array(init.args, init.index * MAX_ARGS * 8, MAX_ARGS);
  const partials = new Float64Array(init.partials);
  const message = new Uint8Array(init.messages, init.index * MESSAGE_BYTES, MESSAGE_BYTES);
  // Read before saying ready: the first job may be posted as soon as the main thread hears it.
  let seen = Atomics.load(ctrl, base + SEQ);
  port.postMessage('ready');
  for (;;) {
    // A short spin first: the jobs of one step come back to back, and waking from a wait is slow.
    for (let spin = 0; spin < 20000 && Atomics.load(ctrl, base + SEQ) === seen; spin++);
    while (Atomics.load(ctrl, base + SEQ) === seen) Atomics.wait(ctrl, base + SEQ, seen);
    seen = Atomics.load(ctrl, base + SEQ);
    const op = ctrl[base + OP];
    let status = 0;
    try {
      if (op === OP_CALL) {
        const r = fns[ctrl[base + KERNEL]](a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], a[23]);
        a[RESULT] = typeof r === 'number' ? r : 0;
      } else if (op === OP_SUM_BLOCKS) {
        // a = [x, n, first block, end block): one partial sum per block, as sumSquares itself forms them.
        const x = a[0];
        const n = a[1];
        for (let b = a[2]; b < a[3]; b++) {
          const start = b * block;
          partials[b] = sumSquares(x + start * 4, Math.min(block, n - start)) as number;
        }
      } else if (op === OP_SIMD) {
        setSimd(a[0]);
      }
    } catch (e) {
      status = 1;
      const text = new TextEncoder().encode(String((e as { message?: unknown } | null)?.message ?? e)).subarray(0, MESSAGE_BYTES - 1);
      message.fill(0);
      message.set(text);
    }
    ctrl[base + STATUS] = status;
    Atomics.store(ctrl, base + DONE, seen);
    Atomics.notify(ctrl, base + DONE);
    if (op === OP_QUIT) return;
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
