// The step pipeline folded into the update kernel (assembly/pipeline.ts, docs/pipeline.md): which
// optimizers take it, and the record the base class writes for each variable before its update.
// Internal.
import { type Heap } from '../arena.js';

// Flags of the record, as in assembly/pipeline.ts.
export const PIPE_DIV = 1;
export const PIPE_MUL = 2;
export const PIPE_CLAMP = 4;
export const PIPE_MUL2 = 8;
export const PIPE_DECAY = 16;
export const PIPE_EMA = 32;

// Record fields (assembly/pipeline.ts): int32 flags and delta; float32 divisor, multiplier, clip
// value, clip factor, decay factor, EMA momentum and 1 - momentum. Written straight into the views:
// a number kept in an object field changes the field's representation the first time it is not a
// small integer (a loss scale above 2**30), which deoptimizes every step function once.
export const REC_FLAGS = 0;
export const REC_D = 1;
export const REC_S = 2;
export const REC_C = 3;
export const REC_S2 = 4;
export const REC_K = 5;
export const REC_M = 6;
export const REC_OM = 7;
export const REC_DELTA = 8;

/** Views of a heap's pipeline record, re-derived only after memory growth (or for another heap). */
export class PipeViews {
  i32 = new Int32Array(0);
  f32 = new Float32Array(0);
  // What the views were made for, kept as plain fields: a typed array's `buffer` and `byteOffset`
  // are getters, and a getter call V8 leaves out of line now and then allocated in the step.
  private buf: ArrayBufferLike | null = null;
  private at = -1;

  /** Points the views at `heap`'s record; returns its address. */
  bind(heap: Heap): number {
    const at = heap.pipeline as number;
    const buf = heap.memory.buffer;
    if (this.buf !== buf || this.at !== at) {
      this.i32 = new Int32Array(buf, at, 9);
      this.f32 = new Float32Array(buf, at, 9);
      this.buf = buf;
      this.at = at;
    }
    return at;
  }
}

interface OptimizerClass {
  readonly prototype: object;
  readonly fusesPipeline?: boolean;
}

const HOOKS = ['updateStep', 'beforeUpdateSteps', 'afterUpdateSteps'];

/**
 * Whether instances of `cls` take the fused pipeline: the nearest class that declares
 * `fusesPipeline` says so, unless a class below it overrides one of the update hooks (a subclass
 * of Adam with its own updateStep may read its gradient, so it gets the prepared one).
 */
export function classFusesPipeline(cls: OptimizerClass): boolean {
  for (let c: OptimizerClass | null = cls; c !== null && c.prototype !== undefined; c = Object.getPrototypeOf(c) as OptimizerClass | null) {
    if (Object.prototype.hasOwnProperty.call(c, 'fusesPipeline')) return c.fusesPipeline === true;
    for (const hook of HOOKS) if (Object.prototype.hasOwnProperty.call(c.prototype, hook)) return false;
  }
  return false;
}
