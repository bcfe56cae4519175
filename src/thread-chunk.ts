// Claiming and running one chunk of the current job: the same code on the main thread and in
// every worker, so a chunk is computed identically whoever runs it.
import { AND, CHUNK, CHUNKS, CLAIM, COUNT_ARG, KERNEL, MAX_ARGS, OP, OP_CALL, OP_PROBE, OP_SUM_BLOCKS, PROBE_BASE } from './thread-protocol.js';

type Fn = (...args: number[]) => unknown;

/** One thread's view of the shared job state, and its own instance's kernels. */
export interface ChunkRunner {
  readonly ctrl: Int32Array;
  readonly args: Float64Array;
  readonly partials: Float64Array;
  readonly fns: readonly Fn[];
  readonly sumSquares: Fn;
  readonly scaleCopy: Fn;
  /** Elements per sumSquares block (the kernel's own). */
  readonly block: number;
  /** Per-thread scratch for one chunk's arguments. */
  readonly scratch: Float64Array;
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
    const a = r.args;
    const s = r.scratch;
    const ci = ctrl[COUNT_ARG];
    const size = ctrl[CHUNK];
    const start = k * size;
    const n = a[ci];
    for (let j = 0; j < MAX_ARGS; j++) s[j] = a[j];
    // Pointers before the count advance by the chunk's start (an absent optional array, 0, stays 0).
    for (let j = 0; j < ci; j++) if (s[j] !== 0) s[j] += start * 4;
    s[ci] = Math.min(size, n - start);
    const res = r.fns[ctrl[KERNEL]](s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15], s[16], s[17], s[18], s[19], s[20], s[21], s[22]);
    if (res === 0) Atomics.store(ctrl, AND, 0);
  } else if (op === OP_SUM_BLOCKS) {
    // args: x, n. Chunk k is sumSquares block k; the main thread adds the block sums in order.
    const start = k * r.block;
    r.partials[k] = r.sumSquares(r.args[0] + start * 4, Math.min(r.block, r.args[1] - start)) as number;
  } else if (op === OP_PROBE) {
    const p = PROBE_BASE + 32 * k;
    r.scaleCopy(p + 16, p, 4, 2);
  }
}
