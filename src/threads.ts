// Multi-core kernels (docs/threads.md). ready({ threads: n }) puts the default arena on a shared
// WebAssembly.Memory and starts n - 1 workers (src/thread-worker.ts), each with its own instance
// of the shared-memory build of the same kernels (build/optim-threads.wasm). The main thread owns
// the arena; workers only run chunks of kernel calls. The arena's kernels object is the raw
// exports with the split kernels replaced by functions that cut a large call into contiguous
// chunks which every thread claims (src/thread-protocol.ts), and return when all are done.
//
// Why results do not depend on the thread count:
// - the split kernels are elementwise (element i reads and writes only element i of each array),
//   and every chunk starts at a multiple of 4 elements, so each element takes the same SIMD or
//   scalar path as in one call. Which kernels, and their parameters, come from the kernels' own
//   signatures (scripts/gen-thread-dispatch.mjs -> src/thread-kernels.ts and runKernel);
// - sumSquares is summed by its kernel in fixed blocks of sumSquaresBlock() elements added in
//   order; threads compute whole blocks and the main thread adds the block sums in that order;
// - allFinite is an AND, which any split preserves.
import { claim, runChunk, type ChunkRunner } from './thread-chunk.js';
import { SPLIT_KERNELS } from './thread-kernels.js';
import {
  ACTIVE,
  AND,
  CHUNK,
  CHUNKS,
  CLAIM,
  ARGS,
  CONTROL_SLOTS,
  DONE,
  ERROR,
  KERNEL,
  MAX_ARGS,
  MESSAGE_BYTES,
  N,
  OP,
  OP_CALL,
  OP_PROBE,
  OP_SUM_BLOCKS,
  PL,
  PROBE_BASE,
  QUIT,
  SEQ,
  SIMD,
  X,
  type WorkerInit,
} from './thread-protocol.js';
import { type KernelFn, type RawKernels } from './arena.js';
import { canBlock, now, spawnWorker, withTimeout, type WorkerHandle } from './thread-spawn.js';

export { threadSupport } from './thread-spawn.js';

export { SPLIT_KERNELS };

/** Kernels whose i32 result is combined across chunks with AND (the others return 1). */
const AND_KERNELS = new Set(['allFinite', 'allFiniteDiv']);

/**
 * Bytes 64..255 of a threaded arena's memory hold the current call's arguments (8 bytes a slot,
 * an int32 or a float32 at its start), where runKernel reads them; the arena starts at 256.
 */
export const ARGS_PTR = 64;
export const ARENA_BASE = 256;

/** Calls with fewer elements than this stay on the calling thread (measured by the bench sweep: docs/threads.md). */
export const DEFAULT_MIN_ELEMENTS = 262144;
/** A worker that has not finished a chunk it claimed after this long is treated as crashed. */
export const DEFAULT_TIMEOUT_MS = 30000;


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
  const p = new Pool(memory, raw, n - 1, options);
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
      const init: WorkerInit = { index: i, module, memory, control: p.control.buffer as SharedArrayBuffer, partials: p.partials.buffer as SharedArrayBuffer, messages: p.messages.buffer as SharedArrayBuffer };
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

export class Pool {
  readonly workers: WorkerHandle[] = [];
  readonly control: Int32Array;
  readonly partials: Float64Array;
  readonly messages: Uint8Array;
  /** Workers in use (all of them unless limitThreads() said otherwise). */
  active = 0;
  private readonly blocking = canBlock();
  private readonly block: number;
  private readonly runner: ChunkRunner;
  private seq = 0;
  /** Set by a worker's error/exit event; the next call reports it. */
  private lostReason: string | null = null;
  private stopping = false;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly raw: RawKernels,
    nWorkers: number,
    readonly options: { minElements: number; timeoutMs: number },
  ) {
    this.control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
    this.control[SIMD] = 1;
    this.control[ARGS] = ARGS_PTR;
    this.block = raw.sumSquaresBlock();
    // One partial per block of the largest possible array (4 GiB of float32).
    this.partials = new Float64Array(new SharedArrayBuffer(Math.ceil(2 ** 30 / this.block) * 8));
    this.messages = new Uint8Array(new SharedArrayBuffer(Math.max(1, nWorkers) * MESSAGE_BYTES));
    this.runner = { ctrl: this.control, partials: this.partials, runKernel: raw.runKernel, sumSquares: raw.sumSquares, scaleCopy: raw.scaleCopy, block: this.block };
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

  /** Posts a job of `chunks` chunks of `chunk` elements over n elements. */
  private post(op: number, kernel: number, chunks: number, chunk: number, n: number): number {
    const c = this.control;
    c[OP] = op;
    c[KERNEL] = kernel;
    c[CHUNKS] = chunks;
    c[CHUNK] = chunk;
    c[N] = n;
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
  private run(what: string, op: number, kernel: number, chunks: number, chunk: number, n: number): void {
    if (this.lostReason !== null) this.fail(this.lostReason);
    const seq = this.post(op, kernel, chunks, chunk, n);
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
    this.post(OP_PROBE, 0, n, 1, n);
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
   * A split kernel call over n elements (its arguments are at ARGS_PTR): chunks of a multiple of
   * 4 elements, about four per thread, the last one with the tail. Returns the AND of the chunks'
   * results (allFinite).
   */
  split(name: string, id: number, n: number): number {
    splitCounts.set(name, (splitCounts.get(name) ?? 0) + 1);
    const chunk = Math.max(256, Math.ceil(n / (4 * (this.active + 1)) / 4) * 4, Math.ceil(n / 0xffff / 4) * 4);
    this.run(name, OP_CALL, id, Math.ceil(n / chunk), chunk, n);
    return this.control[AND];
  }

  /** sumSquares by blocks (chunks); the block sums added in block order, as the kernel does. */
  sumSquares(x: number, n: number, pl: number): number {
    splitCounts.set('sumSquares', (splitCounts.get('sumSquares') ?? 0) + 1);
    const B = this.block;
    const nb = Math.ceil(n / B);
    this.control[X] = x;
    this.control[PL] = pl;
    this.run('sumSquares', OP_SUM_BLOCKS, 0, nb, B, n);
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
 * and setSimd going through `p`. A split kernel's arguments are written to ARGS_PTR (int32 or
 * float32, as the wasm call would convert them) and it runs through runKernel, on this thread
 * alone below minElements: one monomorphic call with small integers, which allocates nothing.
 */
export function threadedKernels(raw: RawKernels, p: Pool): RawKernels {
  const out: Record<string, KernelFn> = {};
  for (const name of Object.keys(raw)) out[name] = raw[name];
  const memory = p.memory;
  const runKernel = raw.runKernel;
  const s = new Float64Array(MAX_ARGS);
  // A shared memory grows in place and its old buffer objects stay valid views of the same bytes,
  // so these views of the argument slots never need re-deriving (unlike views of an unshared one).
  const i32 = new Int32Array(memory.buffer, ARGS_PTR, 2 * MAX_ARGS);
  const f32 = new Float32Array(memory.buffer, ARGS_PTR, 2 * MAX_ARGS);
  for (const name of Object.keys(SPLIT_KERNELS)) {
    const fn = raw[name];
    if (typeof fn !== 'function') throw new Error(`wasm-optim threads: kernel '${name}' is missing from the threaded build`);
    const { id, count, f32: isF32 } = SPLIT_KERNELS[name];
    const argc = isF32.length;
    if (argc > MAX_ARGS || fn.length !== argc) throw new Error(`wasm-optim threads: kernel '${name}' does not have the ${argc} parameters of src/thread-kernels.ts`);
    const types = Uint8Array.from(isF32);
    const and = AND_KERNELS.has(name);
    const call = (): number => {
      for (let j = 0; j < argc; j++) {
        if (types[j] === 1) f32[2 * j] = s[j];
        else i32[2 * j] = s[j];
      }
      const n = i32[2 * count];
      const r = p.threadsFor(n) === 1 ? runKernel(id, ARGS_PTR, 0, n) : p.split(name, id, n);
      return (and ? r : undefined) as number;
    };
    // Small wrappers for the common arities, so that callers can inline them (a call that is not
    // inlined boxes its float arguments).
    out[name] =
      argc <= 4
        ? (((a0, a1, a2, a3) => ((s[0] = a0), (s[1] = a1), (s[2] = a2), (s[3] = a3), call())) as KernelFn)
        : argc <= 9
          ? (((a0, a1, a2, a3, a4, a5, a6, a7, a8) => ((s[0] = a0), (s[1] = a1), (s[2] = a2), (s[3] = a3), (s[4] = a4), (s[5] = a5), (s[6] = a6), (s[7] = a7), (s[8] = a8), call())) as KernelFn)
          : argc <= 13
            ? (((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) => ((s[0] = a0), (s[1] = a1), (s[2] = a2), (s[3] = a3), (s[4] = a4), (s[5] = a5), (s[6] = a6), (s[7] = a7), (s[8] = a8), (s[9] = a9), (s[10] = a10), (s[11] = a11), (s[12] = a12), call())) as KernelFn)
            : (function (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22) {
                s[0] = a0; s[1] = a1; s[2] = a2; s[3] = a3; s[4] = a4; s[5] = a5; s[6] = a6; s[7] = a7;
                s[8] = a8; s[9] = a9; s[10] = a10; s[11] = a11; s[12] = a12; s[13] = a13; s[14] = a14; s[15] = a15;
                s[16] = a16; s[17] = a17; s[18] = a18; s[19] = a19; s[20] = a20; s[21] = a21; s[22] = a22;
                return call();
              } as KernelFn);
  }
  const sumSquares = raw.sumSquares;
  // pl: a pipeline record (Lamb's and Adafactor's ||w||), absent (undefined: 0) for a gradient.
  out.sumSquares = (x: number, n: number, pl?: number) => (p.threadsFor(n) === 1 ? sumSquares(x, n, pl ?? 0) : p.sumSquares(x, n, pl ?? 0));
  const setSimd = raw.setSimd;
  out.setSimd = (on: number) => {
    p.setSimd(on ? 1 : 0);
    return setSimd(on);
  };
  return out;
}
