// Multi-core kernels (docs/threads.md). ready({ threads: n }) puts the default arena on a shared
// WebAssembly.Memory and starts n - 1 workers (src/thread-worker.ts), each with its own instance
// of the shared-memory build of the same kernels (build/optim-threads.wasm). The main thread owns
// the arena; workers only run slices of kernel calls. The arena's kernels object is the raw
// exports with the kernels below replaced by functions that split a large call into contiguous
// slices, one per thread, and wait for all of them.
//
// Why results do not depend on the thread count:
// - the split kernels are elementwise (element i reads and writes only element i of each array),
//   and every slice starts at a multiple of 4 elements, so each element takes the same SIMD or
//   scalar path as in one call;
// - sumSquares is summed by its kernel in fixed blocks of sumSquaresBlock() elements added in
//   order; threads compute whole blocks and the main thread adds the block sums in that order;
// - allFinite is an AND, which any split preserves.
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
import { type KernelFn, type RawKernels } from './arena.js';

/**
 * The kernels split across threads, each with the index of its element-count argument: every
 * argument before it is a pointer to n float32 elements (0 for an absent optional array, which
 * stays 0), every argument after it a scalar passed unchanged. Any kernel not listed (row
 * scatters, Adafactor, Lamb's moments, matmul and Muon, int8 state, the reductions of
 * kernel()) runs on the calling thread.
 */
export const SPLIT_KERNELS: Readonly<Record<string, number>> = {
  // optimizers
  adam: 4,
  adamAmsgrad: 5,
  sgd: 2,
  sgdMomentum: 3,
  rmsprop: 5,
  adagrad: 3,
  adadelta: 4,
  adamax: 4,
  nadam: 4,
  lion: 3,
  ftrl: 4,
  yogi: 4,
  radam: 5,
  // primitives of the step pipeline and of kernels.*
  scaleCopy: 2,
  divCopy: 2,
  axpy: 2,
  fill: 1,
  copy: 2,
  clipByValue: 1,
  decay: 1,
  ema: 2,
  allFinite: 1,
  foreachAddcmul: 3,
  foreachAddcdiv: 3,
  foreachLerp: 2,
  foreachLerpTensor: 3,
  ewMul: 3,
  ewDiv: 3,
  ewMax: 3,
  ewSqrt: 2,
  ewSign: 2,
};

/** Kernels whose i32 result is combined across slices with AND. */
const AND_KERNELS = new Set(['allFinite']);

/** Calls with fewer elements than this stay on the calling thread (measured: docs/threads.md). */
export const DEFAULT_MIN_ELEMENTS = 65536;
/** A worker that has not finished its slice after this long is treated as crashed. */
export const DEFAULT_TIMEOUT_MS = 30000;

interface WorkerHandle {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

/** Why the last ready({ threads }) runs on one thread, or null when it did not fall back. */
let fallbackReason: string | null = null;
let pool: Pool | null = null;

/** Threads the default arena's kernels use (1 when threads were not requested or not available). */
export function threadCount(): number {
  return pool === null ? 1 : pool.active + 1;
}

/**
 * Uses only the first k - 1 workers from now on (k from 1 to the number started): the bench
 * compares thread counts in one process, sample by sample. Not part of the public API.
 */
export function limitThreads(k: number): void {
  if (pool === null) return;
  if (!Number.isInteger(k) || k < 1 || k > pool.workers.length + 1) throw new RangeError(`limitThreads: k must be an integer from 1 to ${pool.workers.length + 1}, got ${k}`);
  pool.active = k - 1;
}

/** Why ready({ threads }) fell back to one thread, or null. */
export function threadFallbackReason(): string | null {
  return fallbackReason;
}

export function setFallbackReason(reason: string | null): void {
  fallbackReason = reason;
}

/**
 * Stops the worker threads. Kernels keep working, on the calling thread. Idempotent. In Node the
 * workers do not keep the process alive anyway; in Deno and browsers call this when done.
 */
export function shutdownThreads(): void {
  if (pool !== null) pool.shutdown();
}

/** Calls split across threads so far, by kernel (sumSquares included): what the tests proved covers. */
export function threadSplitCounts(): ReadonlyMap<string, number> {
  return splitCounts;
}
const splitCounts = new Map<string, number>();

/** The live workers (for tests that simulate a crash by terminating one). */
export function threadWorkersForTesting(): readonly WorkerHandle[] {
  return pool === null ? [] : pool.workers;
}

// performance.now where there is one (every runtime we support), Date.now otherwise.
const now: () => number = typeof performance !== 'undefined' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now();

/** True where this thread may block in Atomics.wait (not a browser page's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Null when this runtime can run kernel workers on a shared memory, else why not. */
export function threadSupport(): string | null {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    return 'SharedArrayBuffer is not available (a browser page needs cross-origin isolation: COOP same-origin + COEP require-corp)';
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    return `shared WebAssembly memory is not available (${String((e as { message?: unknown } | null)?.message ?? e)})`;
  }
  return null;
}

const NODE_WT = 'node:worker_threads';

async function spawnWorker(url: URL, onFail: (why: string) => void): Promise<{ worker: WorkerHandle; started: Promise<void> }> {
  const Web = (globalThis as { Worker?: new (url: URL, options: { type: 'module' }) => WorkerHandle & EventTarget }).Worker;
  if (typeof Web === 'function') {
    const worker = new Web(url, { type: 'module' });
    const started = new Promise<void>((resolve, reject) => {
      worker.addEventListener('message', () => resolve(), { once: true });
      worker.addEventListener('error', (e) => {
        const why = String((e as ErrorEvent).message ?? 'error event');
        reject(new Error(why));
        onFail(why);
      });
    });
    return { worker, started };
  }
  let wt: { Worker: new (url: URL) => WorkerHandle & { once(t: string, f: (x: unknown) => void): void; on(t: string, f: (x: unknown) => void): void; unref(): void } };
  try {
    wt = (await import(/* webpackIgnore: true */ /* @vite-ignore */ NODE_WT)) as typeof wt;
  } catch {
    throw new Error('no Worker constructor and no node:worker_threads in this runtime');
  }
  const worker = new wt.Worker(url);
  // Workers must not keep Node alive after training: the process exits by itself.
  worker.unref();
  const started = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.on('error', (e) => {
      const why = String((e as { message?: unknown } | null)?.message ?? e);
      reject(new Error(why));
      onFail(why);
    });
    worker.on('exit', (code) => {
      reject(new Error(`exited with code ${String(code)}`));
      onFail(`exited with code ${String(code)}`);
    });
  });
  return { worker, started };
}

/**
 * Starts n - 1 workers on `memory` and checks, by a real round trip, that each sees the main
 * thread's writes and the main thread sees its writes (Bun #25677 breaks this). Returns the pool,
 * or the reason to stay on one thread; never throws and never hangs (startup has a timeout).
 */
export async function startPool(
  n: number,
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  raw: RawKernels,
  options: { minElements: number; timeoutMs: number },
): Promise<Pool | string> {
  const names = Object.keys(raw).filter((k) => typeof raw[k] === 'function').sort();
  const p = new Pool(names, memory, raw, n - 1, options);
  let url: URL;
  try {
    url = new URL('./thread-worker.js', import.meta.url);
  } catch {
    return 'the worker script cannot be located here (import.meta.url is not set)';
  }
  try {
    for (let i = 0; i < n - 1; i++) {
      const { worker, started } = await spawnWorker(url, (why) => p.lost(i, why));
      p.workers.push(worker);
      started.catch(() => {}); // reported through p.lost / the race below
      const init: WorkerInit = { index: i, module, memory, control: p.control.buffer as SharedArrayBuffer, args: p.args.buffer as SharedArrayBuffer, partials: p.partials.buffer as SharedArrayBuffer, messages: p.messages.buffer as SharedArrayBuffer, names };
      worker.postMessage(init);
      await withTimeout(started, Math.min(options.timeoutMs, 20000), `worker ${i} did not start`);
    }
    const probe = p.probe();
    if (probe !== null) {
      p.shutdown();
      return probe;
    }
  } catch (e) {
    p.shutdown();
    return `starting a worker failed: ${String((e as { message?: unknown } | null)?.message ?? e)}`;
  }
  p.active = p.workers.length;
  pool = p;
  return p;
}

function withTimeout<T>(x: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([x, t]).finally(() => clearTimeout(timer));
}

export class Pool {
  readonly workers: WorkerHandle[] = [];
  readonly control: Int32Array;
  readonly args: Float64Array;
  readonly partials: Float64Array;
  readonly messages: Uint8Array;
  private readonly ids = new Map<string, number>();
  private readonly blocking = canBlock();
  private readonly block: number;
  private readonly sumSquaresRaw: KernelFn;
  /** Workers in use (all of them unless limitThreads() said otherwise). */
  active = 0;
  /** Set by a worker's error/exit event; the next call reports it. */
  private lostReason: string | null = null;
  private stopping = false;
  /** Slices handed out by the current call: worker i ran when dispatched[i] is 1. */
  private readonly dispatched: Uint8Array;

  constructor(
    names: readonly string[],
    readonly memory: WebAssembly.Memory,
    readonly raw: RawKernels,
    nWorkers: number,
    readonly options: { minElements: number; timeoutMs: number },
  ) {
    names.forEach((name, i) => this.ids.set(name, i));
    this.control = new Int32Array(new SharedArrayBuffer(Math.max(1, nWorkers) * STRIDE * 4));
    this.args = new Float64Array(new SharedArrayBuffer(Math.max(1, nWorkers) * MAX_ARGS * 8));
    this.block = raw.sumSquaresBlock();
    // One partial per block of the largest possible array (4 GiB of float32).
    this.partials = new Float64Array(new SharedArrayBuffer(Math.ceil(2 ** 30 / this.block) * 8));
    this.messages = new Uint8Array(new SharedArrayBuffer(Math.max(1, nWorkers) * MESSAGE_BYTES));
    this.dispatched = new Uint8Array(Math.max(1, nWorkers));
    this.sumSquaresRaw = raw.sumSquares;
  }

  /** Threads a call over n elements uses (1: the calling thread alone). */
  threadsFor(n: number): number {
    if (this.stopping || n < this.options.minElements) return 1;
    return this.active + 1;
  }

  lost(i: number, why: string): void {
    if (!this.stopping && this.lostReason === null) this.lostReason = `worker ${i} stopped (${why})`;
  }

  shutdown(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (let i = 0; i < this.workers.length; i++) {
      // Ask politely (the worker leaves its loop and exits), then make sure.
      this.control[i * STRIDE + OP] = OP_QUIT;
      Atomics.add(this.control, i * STRIDE + SEQ, 1);
      Atomics.notify(this.control, i * STRIDE + SEQ);
      try {
        void this.workers[i].terminate();
      } catch {
        // already gone
      }
    }
    if (pool === this) pool = null;
  }

  /** Round trip through every worker: scaleCopy of values the main thread just wrote. */
  probe(): string | null {
    // Bytes 16..63 are below the arena's first block (base 64) and are never handed out.
    const src = 16;
    const dst = 32;
    const id = this.ids.get('scaleCopy') as number;
    for (let i = 0; i < this.workers.length; i++) {
      const f = new Float32Array(this.memory.buffer, 0, 16);
      for (let j = 0; j < 4; j++) {
        f[src / 4 + j] = i + 1.5 + j;
        f[dst / 4 + j] = 0;
      }
      const a = i * MAX_ARGS;
      this.args[a] = dst;
      this.args[a + 1] = src;
      this.args[a + 2] = 4;
      this.args[a + 3] = 2;
      this.post(i, OP_CALL, id);
      const err = this.waitFor(i, 'probe', Math.min(this.options.timeoutMs, 5000));
      if (err !== null) return `the thread probe failed: ${err}`;
      const g = new Float32Array(this.memory.buffer, 0, 16);
      for (let j = 0; j < 4; j++) {
        if (g[dst / 4 + j] !== 2 * (i + 1.5 + j)) {
          return 'writes to shared wasm memory are not visible across threads in this runtime (the Bun bug oven-sh/bun#25677?)';
        }
      }
    }
    return null;
  }

  private post(i: number, op: number, kernel: number): void {
    const c = i * STRIDE;
    this.control[c + OP] = op;
    this.control[c + KERNEL] = kernel;
    Atomics.add(this.control, c + SEQ, 1);
    Atomics.notify(this.control, c + SEQ);
  }

  /** Waits for worker i's current job; returns null, or an error message (and the pool is then broken). */
  private waitFor(i: number, what: string, timeoutMs: number): string | null {
    const c = i * STRIDE;
    const seq = Atomics.load(this.control, c + SEQ);
    let spins = 0;
    let deadline = 0;
    while (Atomics.load(this.control, c + DONE) !== seq) {
      if (++spins < 4096) continue;
      if (deadline === 0) deadline = now() + timeoutMs;
      if (this.blocking) Atomics.wait(this.control, c + DONE, seq - 1, 50);
      if (now() > deadline) return `worker ${i} did not finish its '${what}' slice within ${timeoutMs} ms (it crashed, was terminated or is stuck)`;
    }
    if (this.control[c + STATUS] !== 0) {
      const bytes = this.messages.slice(i * MESSAGE_BYTES, (i + 1) * MESSAGE_BYTES);
      const end = bytes.indexOf(0);
      return `worker ${i} failed in '${what}': ${new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end))}`;
    }
    return null;
  }

  /** Throws the clear error for a lost or failed worker, after shutting the pool down. */
  private fail(why: string): never {
    this.shutdown();
    throw new Error(`wasm-optim threads: ${why}; the worker threads were shut down and kernels now run on one thread (threadCount() is 1)`);
  }

  /** Waits for every dispatched slice; throws (after all have been waited for) if one failed. */
  private join(what: string): void {
    let err: string | null = null;
    for (let i = 0; i < this.workers.length; i++) {
      if (this.dispatched[i] === 0) continue;
      this.dispatched[i] = 0;
      const e = this.waitFor(i, what, this.options.timeoutMs);
      if (err === null) err = e;
    }
    if (err !== null) this.fail(err);
  }

  /**
   * Runs a split kernel: args are in this.scratch (argc of them), `ci` the count's index. Slices
   * of a multiple of 4 elements go to the workers in order, the last (with the tail) to this thread.
   */
  split(name: string, raw: KernelFn, ci: number, argc: number, s: Float64Array): number {
    if (this.lostReason !== null) this.fail(this.lostReason);
    const id = this.ids.get(name) as number;
    splitCounts.set(name, (splitCounts.get(name) ?? 0) + 1);
    const n = s[ci];
    const t = this.active + 1;
    const chunk = Math.ceil(n / t / 4) * 4;
    let start = 0;
    for (let i = 0; i < this.active && start + chunk < n; i++) {
      const a = i * MAX_ARGS;
      for (let j = 0; j < argc; j++) {
        const v = s[j];
        this.args[a + j] = j < ci ? (v === 0 ? 0 : v + start * 4) : j === ci ? chunk : v;
      }
      this.post(i, OP_CALL, id);
      this.dispatched[i] = 1;
      start += chunk;
    }
    let mine: unknown;
    let thrown: unknown = null;
    try {
      for (let j = 0; j < ci; j++) if (s[j] !== 0) s[j] += start * 4;
      s[ci] = n - start;
      mine = raw(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15], s[16], s[17], s[18], s[19], s[20], s[21], s[22]);
    } catch (e) {
      thrown = e;
    }
    const and = AND_KERNELS.has(name);
    let result = and ? (typeof mine === 'number' ? mine : 0) : 0;
    let err: string | null = null;
    for (let i = 0; i < this.workers.length; i++) {
      if (this.dispatched[i] === 0) continue;
      this.dispatched[i] = 0;
      const e = this.waitFor(i, name, this.options.timeoutMs);
      if (err === null) err = e;
      if (and && this.args[i * MAX_ARGS + RESULT] === 0) result = 0;
    }
    if (err !== null) this.fail(err);
    if (thrown !== null) throw thrown;
    return and ? result : (mine as number);
  }

  /** sumSquares over whole blocks per thread; block sums added in block order (see the kernel). */
  sumSquares(x: number, n: number): number {
    if (this.lostReason !== null) this.fail(this.lostReason);
    const B = this.block;
    splitCounts.set('sumSquares', (splitCounts.get('sumSquares') ?? 0) + 1);
    const nb = Math.ceil(n / B);
    const t = this.active + 1;
    const per = Math.ceil(nb / t);
    let b0 = 0;
    for (let i = 0; i < this.active && b0 + per < nb; i++) {
      const a = i * MAX_ARGS;
      this.args[a] = x;
      this.args[a + 1] = n;
      this.args[a + 2] = b0;
      this.args[a + 3] = b0 + per;
      this.post(i, OP_SUM_BLOCKS, 0);
      this.dispatched[i] = 1;
      b0 += per;
    }
    let thrown: unknown = null;
    try {
      for (let b = b0; b < nb; b++) this.partials[b] = this.sumSquaresRaw(x + b * B * 4, Math.min(B, n - b * B));
    } catch (e) {
      thrown = e;
    }
    this.join('sumSquares');
    if (thrown !== null) throw thrown;
    let total = 0;
    for (let b = 0; b < nb; b++) total += this.partials[b];
    return total;
  }

  /** setSimd on every instance, so all threads take the same path. */
  setSimd(on: number): void {
    for (let i = 0; i < this.workers.length; i++) {
      this.args[i * MAX_ARGS] = on;
      this.post(i, OP_SIMD, 0);
      this.dispatched[i] = 1;
    }
    this.join('setSimd');
  }
}

/**
 * The kernels object of a threaded arena: the raw exports, with the SPLIT_KERNELS, sumSquares
 * and setSimd going through `p` while it runs. Allocation-free per call: the arguments go to a
 * fixed scratch array (no rest parameters).
 */
export function threadedKernels(raw: RawKernels, p: Pool): RawKernels {
  const out: Record<string, KernelFn> = {};
  for (const name of Object.keys(raw)) out[name] = raw[name];
  const s = new Float64Array(MAX_ARGS);
  for (const name of Object.keys(SPLIT_KERNELS)) {
    const fn = raw[name];
    if (typeof fn !== 'function') continue; // a kernel of a build without it
    const ci = SPLIT_KERNELS[name];
    const argc = fn.length;
    if (argc > RESULT || ci >= argc) throw new Error(`wasm-optim threads: the split table does not fit kernel '${name}' (${argc} parameters)`);
    out[name] = function (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22) {
      s[0] = a0; s[1] = a1; s[2] = a2; s[3] = a3; s[4] = a4; s[5] = a5; s[6] = a6; s[7] = a7;
      s[8] = a8; s[9] = a9; s[10] = a10; s[11] = a11; s[12] = a12; s[13] = a13; s[14] = a14; s[15] = a15;
      s[16] = a16; s[17] = a17; s[18] = a18; s[19] = a19; s[20] = a20; s[21] = a21; s[22] = a22;
      if (p.threadsFor(s[ci]) === 1) return fn(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22);
      return p.split(name, fn, ci, argc, s);
    } as KernelFn;
  }
  const sumSquares = raw.sumSquares;
  out.sumSquares = (x: number, n: number) => (p.threadsFor(n) === 1 ? sumSquares(x, n) : p.sumSquares(x, n));
  const setSimd = raw.setSimd;
  out.setSimd = (on: number) => {
    const r = setSimd(on);
    if (p.threadsFor(Infinity) > 1) p.setSimd(on ? 1 : 0);
    return r;
  };
  return out;
}
