// Claiming and running one chunk of the current job: the same code on the main thread and in
// every worker, so a chunk is computed identically whoever runs it. Kernel calls go through the
// threaded build's runKernel with small integer arguments: nothing is boxed.
import { AND, ARGS, CHUNK, CHUNKS, CLAIM, KERNEL, N, OP, OP_CALL, OP_PROBE, OP_SUM_BLOCKS, PL, PROBE_BASE, X } from './thread-protocol.js';

type Fn = (...args: number[]) => number;

/** One thread's view of the shared job state, and its own instance's kernels. */
export interface ChunkRunner {
  readonly ctrl: Int32Array;
  readonly partials: Float64Array;
  readonly runKernel: Fn;
  readonly sumSquares: Fn;
  readonly scaleCopy: Fn;
  /** Elements per sumSquares block (the kernel's own). */
  readonly block: number;
}

/** Claims a chunk of job `seq`; returns its index, or -1 when none is left (or the job is over). */
export function claim(ctrl: Int32Array, seq: number): number {
  const tag = (seq & 0x7fff) << 16;
  for (;;) {
    const v = Atomics.load(ctrl, CLAIM);
    if ((v & 0x7fff0000) !== tag || (v & 0xffff) === 0) return -1;
    if (Atomics.compareExchange(ctrl, CLAIM, v, v - 1) === v) return Atomics.load(ctrl, CHUNKS) - (v & 0xffff);
  }
}

/** Runs chunk k of the current job (claimed by this thread). */
export function runChunk(r: ChunkRunner, k: number): void {
  const ctrl = r.ctrl;
  const op = ctrl[OP];
  if (op === OP_CALL) {
    const size = ctrl[CHUNK];
    const start = k * size;
    if (r.runKernel(ctrl[KERNEL], ctrl[ARGS], start, Math.min(size, ctrl[N] - start)) === 0) Atomics.store(ctrl, AND, 0);
  } else if (op === OP_SUM_BLOCKS) {
    // Chunk k is sumSquares block k; the main thread adds the block sums in order.
    const start = k * r.block;
    r.partials[k] = r.sumSquares((ctrl[X] >>> 0) + start * 4, Math.min(r.block, ctrl[N] - start), ctrl[PL] >>> 0);
  } else if (op === OP_PROBE) {
    const p = PROBE_BASE + 32 * k;
    r.scaleCopy(p + 16, p, 4, 2);
  }
}
