// The control memory shared by the main thread and the kernel workers (src/threads.ts,
// src/thread-worker.ts). One job at a time: the main thread writes it, bumps SEQ and wakes the
// workers; the job is cut into chunks that every thread, the main one included, claims from one
// counter until none is left. A worker that wakes late (a loaded machine) finds nothing left and
// costs nothing; the main thread waits only for chunks a worker has claimed and not finished.
// Nothing is sent by message after start-up.

/** Bumped by the main thread to post a job (the workers wait on it). */
export const SEQ = 0;
/**
 * The claim word: (job seq & 0x7fff) << 16 | chunks still unclaimed. A claim is a
 * compareExchange that decrements it; the seq part makes a stale claim on a finished job fail,
 * and a claim only succeeds while chunks remain, so no thread ever reads a later job's arguments
 * as an earlier one's.
 */
export const CLAIM = 1;
/** Chunks finished (by anyone); the main thread waits for it to reach CHUNKS. */
export const DONE = 2;
/** 0, or 1 + the index of the first worker whose chunk threw (its message row says why). */
export const ERROR = 3;
/** AND of the chunk results (allFinite). */
export const AND = 4;
/** What to do: one of the OP_* codes. */
export const OP = 5;
/** The split kernel's id for runKernel (src/thread-kernels.ts). */
export const KERNEL = 6;
/** Chunks in the job. */
export const CHUNKS = 7;
/** Elements per chunk (a multiple of 4; the last chunk takes the rest). */
export const CHUNK = 8;
/** Elements in the whole call. */
export const N = 9;
/** 1 when the SIMD loops are on: every worker follows it before its next job. */
export const SIMD = 10;
/** Set to 1 (with a SEQ bump) to make the workers leave their loop. */
export const QUIT = 11;
/** Workers that take part in jobs (the first ACTIVE of them; the bench compares thread counts). */
export const ACTIVE = 12;
/** sumSquares' array (a byte offset; read as unsigned). */
export const X = 13;
/** Where the call's arguments are in wasm memory (OP_CALL; see ARGS_PTR in src/threads.ts). */
export const ARGS = 14;
/** sumSquares' pipeline record (0: none; see assembly/pipeline.ts), read as unsigned. */
export const PL = 15;
/** Int32 slots in the control array. */
export const CONTROL_SLOTS = 16;

export const OP_CALL = 1;
export const OP_SUM_BLOCKS = 2;
/** Start-up check: each worker claims at most one chunk k and doubles 4 floats at PROBE_BASE + 32k. */
export const OP_PROBE = 3;
export const PROBE_BASE = 1024;

/** Argument slots of a call (adan, the widest kernel, takes 22). */
export const MAX_ARGS = 24;
/** Bytes per worker for an error message (UTF-8). */
export const MESSAGE_BYTES = 512;

/** Sent to a worker once, at start-up. */
export interface WorkerInit {
  readonly index: number;
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly control: SharedArrayBuffer;
  readonly partials: SharedArrayBuffer;
  readonly messages: SharedArrayBuffer;
}
