// The layout of the control memory shared by the main thread and the kernel workers
// (src/threads.ts, src/thread-worker.ts). Each worker has a row of Int32 slots and a row of
// Float64 argument slots; nothing is sent by message after start-up.

/** Int32 slots per worker in the control array. */
export const STRIDE = 8;
/** Bumped by the main thread to hand the worker a job (the worker waits on it). */
export const SEQ = 0;
/** Set to the job's SEQ by the worker when the job is finished (the main thread waits on it). */
export const DONE = 1;
/** 0 when the last job ran, 1 when it threw (the message is in the worker's message row). */
export const STATUS = 2;
/** What to do: one of the OP_* codes. */
export const OP = 3;
/** Index of the kernel in the names list sent at start-up. */
export const KERNEL = 4;

export const OP_CALL = 1;
export const OP_SUM_BLOCKS = 2;
export const OP_SIMD = 3;
export const OP_QUIT = 4;

/** Float64 argument slots per worker (adan, the widest kernel, takes 22). */
export const MAX_ARGS = 24;
/** The argument slot a CALL job's return value is written to (so a kernel takes at most 23 arguments). */
export const RESULT = MAX_ARGS - 1;
/** Bytes per worker for an error message (UTF-8). */
export const MESSAGE_BYTES = 512;

/** Sent to a worker once, at start-up. */
export interface WorkerInit {
  readonly index: number;
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly control: SharedArrayBuffer;
  readonly args: SharedArrayBuffer;
  readonly partials: SharedArrayBuffer;
  readonly messages: SharedArrayBuffer;
  readonly names: readonly string[];
}
