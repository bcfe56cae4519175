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
import { claim, runChunk, type ChunkRunner } from './thread-chunk.js';
import {
  ACTIVE,
  AND,
  CHUNK,
  CHUNKS,
  CLAIM,
  CONTROL_SLOTS,
  COUNT_ARG,
  DONE,
  ERROR,
  KERNEL,
  MAX_ARGS,
  MESSAGE_BYTES,
  OP,
  OP_CALL,
  OP_PROBE,
  OP_SUM_BLOCKS,
  PROBE_BASE,
  QUIT,
  SEQ,
  SIMD,
  type WorkerInit,
} from './thread-protocol.js';
import { type KernelFn, type RawKernels } from './arena.js';

/**
 * The kernels split across threads, each with the index of its element-count argument: every
 * argument before it is a pointer to n float32 elements (0 for an absent optional array, which
 * stays 0), every argument after it a scalar passed unchanged. Any kernel not listed (row
 * scatters, Adafactor, Lamb's moments and Prodigy's sums, matmul and Muon, int8 state, the
 * reductions of kernel()) runs on the calling thread.
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
  adan: 6,
  ademamix: 5,
  adopt: 4,
  scheduleFreeAdamW: 4,
  scheduleFreeSGD: 3,
  scheduleFreeEval: 2,
  // the elementwise halves of optimizers whose other half is a reduction (run on one thread)
  lambApply: 3,
  prodigyApply: 3,
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

/** Calls with fewer elements than this stay on the calling thread (measured by the bench sweep: docs/threads.md). */
export const DEFAULT_MIN_ELEMENTS = 262144;
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
  pool.setActive(k - 1);
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
  const g = globalThis as { Worker?: unknown; process?: { versions?: { node?: string } } };
  if (typeof g.Worker !== 'function' && !g.process?.versions?.node) return 'this runtime has no Worker';
  return null;
}

const NODE_WT = 'node:worker_threads';

async function spawnWorker(url: URL, onFail: (why: string) => void): Promise<{ worker: WorkerHandle; started: Promise<void> }> {
  const Web = (globalThis as { Worker?: new (url: URL, options: { type: 'module' }) => WorkerHandle & EventTarget }).Worker;
  if (typeof Web === 'function') {
    const worker = new Web(url, { type: 'module' });
    // Bun's (and Deno's, where it has one) unref: the workers do not keep the process alive.
    (worker as { unref?: () => void }).unref?.();
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
      await withTimeout(started, 20000, `worker ${i} did not start`);
    }
    p.setActive(p.workers.length);
    const probe = p.probe();
    if (probe !== null) {
      p.shutdown();
      return probe;
    }
  } catch (e) {
    p.shutdown();
    return `starting a worker failed: ${String((e as { message?: unknown } | null)?.message ?? e)}`;
  }
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
  /** Workers in use (all of them unless limitThreads() said otherwise). */
  active = 0;
  private readonly ids = new Map<string, number>();
  private readonly blocking = canBlock();
  private readonly block: number;
  private readonly runner: ChunkRunner;
  private seq = 0;
  /** Set by a worker's error/exit event; the next call reports it. */
  private lostReason: string | null = null;
  private stopping = false;

  constructor(
    readonly names: readonly string[],
    readonly memory: WebAssembly.Memory,
    readonly raw: RawKernels,
    nWorkers: number,
    readonly options: { minElements: number; timeoutMs: number },
  ) {
    names.forEach((name, i) => this.ids.set(name, i));
    this.control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
    this.control[SIMD] = 1;
    this.args = new Float64Array(new SharedArrayBuffer(MAX_ARGS * 8));
    this.block = raw.sumSquaresBlock();
    // One partial per block of the largest possible array (4 GiB of float32).
    this.partials = new Float64Array(new SharedArrayBuffer(Math.ceil(2 ** 30 / this.block) * 8));
    this.messages = new Uint8Array(new SharedArrayBuffer(Math.max(1, nWorkers) * MESSAGE_BYTES));
    this.runner = {
      ctrl: this.control,
      args: this.args,
      partials: this.partials,
      fns: names.map((n) => raw[n]),
      sumSquares: raw.sumSquares,
      scaleCopy: raw.scaleCopy,
      block: this.block,
      scratch: new Float64Array(MAX_ARGS),
    };
  }

  /** Threads a call over n elements uses (1: the calling thread alone). */
  threadsFor(n: number): number {
    if (this.stopping || n < this.options.minElements) return 1;
    return this.active + 1;
  }

  setActive(k: number): void {
    this.active = k;
    Atomics.store(this.control, ACTIVE, k);
  }

  lost(i: number, why: string): void {
    if (!this.stopping && this.lostReason === null) this.lostReason = `worker ${i} stopped (${why})`;
  }

  shutdown(): void {
    if (this.stopping) return;
    this.stopping = true;
    // Ask politely (the workers leave their loop and exit), then make sure.
    Atomics.store(this.control, QUIT, 1);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    for (const w of this.workers) {
      try {
        void w.terminate();
      } catch {
        // already gone
      }
    }
    if (pool === this) pool = null;
  }

  /** Posts a job of `chunks` chunks of `chunk` elements; the arguments are already in this.args. */
  private post(op: number, kernel: number, chunks: number, chunk: number, countArg: number): number {
    const c = this.control;
    c[OP] = op;
    c[KERNEL] = kernel;
    c[CHUNKS] = chunks;
    c[CHUNK] = chunk;
    c[COUNT_ARG] = countArg;
    c[ERROR] = 0;
    c[AND] = 1;
    Atomics.store(c, DONE, 0);
    const seq = (this.seq = (this.seq + 1) & 0x7fff);
    Atomics.store(c, CLAIM, (seq << 16) | chunks);
    Atomics.add(c, SEQ, 1);
    Atomics.notify(c, SEQ);
    return seq;
  }

  /** Claims and runs chunks on this thread until none is left; returns what one of them threw. */
  private work(seq: number): unknown {
    let thrown: unknown = null;
    for (let k = claim(this.control, seq); k >= 0; k = claim(this.control, seq)) {
      // After a throw, claim the rest without running them: the job must end, and soon.
      if (thrown === null) {
        try {
          runChunk(this.runner, k);
        } catch (e) {
          thrown = e;
        }
      }
      Atomics.add(this.control, DONE, 1);
    }
    return thrown;
  }

  /** Waits until every chunk is done; returns null, or why not (the pool must then be shut down). */
  private wait(what: string, chunks: number, timeoutMs: number): string | null {
    const c = this.control;
    let spins = 0;
    let deadline = 0;
    for (let done = Atomics.load(c, DONE); done !== chunks; done = Atomics.load(c, DONE)) {
      if (++spins < 4096) continue;
      if (deadline === 0) deadline = now() + timeoutMs;
      // A browser page's main thread may not block: it spins (docs/threads.md).
      if (this.blocking) Atomics.wait(c, DONE, done, 20);
      if (now() > deadline) return `a worker did not finish its part of '${what}' within ${timeoutMs} ms (it crashed, was terminated or is stuck)`;
    }
    const e = c[ERROR];
    if (e !== 0) {
      const i = e - 1;
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

  /** Runs a job to its end on this thread and the workers; throws what went wrong. */
  private run(what: string, op: number, kernel: number, chunks: number, chunk: number, countArg: number): void {
    if (this.lostReason !== null) this.fail(this.lostReason);
    const seq = this.post(op, kernel, chunks, chunk, countArg);
    const thrown = this.work(seq);
    const err = this.wait(what, chunks, this.options.timeoutMs);
    if (err !== null) this.fail(err);
    if (thrown !== null) throw thrown;
  }

  /**
   * Every worker doubles 4 floats the main thread has just written (a worker claims one chunk of
   * a probe, and the main thread none, so all must take part): shared memory works both ways.
   */
  probe(): string | null {
    const n = this.workers.length;
    const f = new Float32Array(this.memory.buffer, PROBE_BASE, 8 * n);
    for (let k = 0; k < n; k++) for (let j = 0; j < 4; j++) (f[8 * k + j] = k + 1.5 + j), (f[8 * k + 4 + j] = 0);
    this.post(OP_PROBE, 0, n, 1, 0);
    const err = this.wait('probe', n, 5000);
    if (err !== null) return `the thread probe failed: ${err}`;
    const g = new Float32Array(this.memory.buffer, PROBE_BASE, 8 * n);
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < 4; j++) {
        if (g[8 * k + 4 + j] !== 2 * (k + 1.5 + j)) {
          return 'writes to shared wasm memory are not visible across threads in this runtime (the Bun bug oven-sh/bun#25677?)';
        }
      }
    }
    g.fill(0);
    return null;
  }

  /**
   * A split kernel call; its arguments are in this.args. Chunks of a multiple of 4 elements
   * (about four per thread), the last one with the tail.
   */
  split(name: string, ci: number): number {
    splitCounts.set(name, (splitCounts.get(name) ?? 0) + 1);
    const n = this.args[ci];
    const chunk = Math.max(256, Math.ceil(n / (4 * (this.active + 1)) / 4) * 4, Math.ceil(n / 0xffff / 4) * 4);
    this.run(name, OP_CALL, this.ids.get(name) as number, Math.ceil(n / chunk), chunk, ci);
    return this.control[AND];
  }

  /** sumSquares by blocks (chunks); the block sums added in block order, as the kernel does. */
  sumSquares(x: number, n: number): number {
    splitCounts.set('sumSquares', (splitCounts.get('sumSquares') ?? 0) + 1);
    const B = this.block;
    const nb = Math.ceil(n / B);
    this.args[0] = x;
    this.args[1] = n;
    this.run('sumSquares', OP_SUM_BLOCKS, 0, nb, B, 1);
    let total = 0;
    for (let b = 0; b < nb; b++) total += this.partials[b];
    return total;
  }

  /** Every worker follows the SIMD switch from its next job on. */
  setSimd(on: number): void {
    Atomics.store(this.control, SIMD, on);
  }
}

/**
 * The kernels object of a threaded arena: the raw exports, with the SPLIT_KERNELS, sumSquares
 * and setSimd going through `p` while it runs. Allocation-free per call: the arguments go to the
 * shared argument row (no rest parameters).
 */
export function threadedKernels(raw: RawKernels, p: Pool): RawKernels {
  const out: Record<string, KernelFn> = {};
  for (const name of Object.keys(raw)) out[name] = raw[name];
  const s = p.args;
  for (const name of Object.keys(SPLIT_KERNELS)) {
    const fn = raw[name];
    if (typeof fn !== 'function') continue; // a kernel of a build without it
    const ci = SPLIT_KERNELS[name];
    const argc = fn.length;
    if (argc >= MAX_ARGS || ci >= argc) throw new Error(`wasm-optim threads: the split table does not fit kernel '${name}' (${argc} parameters)`);
    const and = AND_KERNELS.has(name);
    out[name] = function (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22) {
      s[0] = a0; s[1] = a1; s[2] = a2; s[3] = a3; s[4] = a4; s[5] = a5; s[6] = a6; s[7] = a7;
      s[8] = a8; s[9] = a9; s[10] = a10; s[11] = a11; s[12] = a12; s[13] = a13; s[14] = a14; s[15] = a15;
      s[16] = a16; s[17] = a17; s[18] = a18; s[19] = a19; s[20] = a20; s[21] = a21; s[22] = a22;
      if (p.threadsFor(s[ci]) === 1) return fn(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22);
      const r = p.split(name, ci);
      return (and ? r : undefined) as number;
    } as KernelFn;
  }
  const sumSquares = raw.sumSquares;
  out.sumSquares = (x: number, n: number) => (p.threadsFor(n) === 1 ? sumSquares(x, n) : p.sumSquares(x, n));
  const setSimd = raw.setSimd;
  out.setSimd = (on: number) => {
    p.setSimd(on ? 1 : 0);
    return setSimd(on);
  };
  return out;
}
