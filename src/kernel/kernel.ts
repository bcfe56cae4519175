// kernel(): a custom elementwise update (or reduction) written as arithmetic on expressions,
// compiled at run time into a fused WebAssembly SIMD function over the heap's memory.
// Which path runs (`mode`):
// - 'compiled': the module was compiled here from the emitted bytes (cached by computation);
// - 'precompiled': the app handed in a module compiled ahead of time (fromModule), for runtimes
//   that forbid compiling wasm at run time (workerd, Vercel Edge) but allow instantiating it;
// - 'fallback': compiling was refused (or `compile: false`): multi-pass over optim.wasm's
//   primitives (src/kernel/fallback.ts). All three give the same bits.
// A kernel declared with `pipeline: { weight, gradient }` also takes the step pipeline's record
// (assembly/pipeline.ts): run()'s third argument, `this.pipeline` in a fusing optimizer's updateStep.
import { type Heap } from '../arena.js';
import { PIPE_EMA, PipeViews, REC_DELTA, REC_FLAGS } from '../base/pipeline.js';
import { describeValue } from '../validate.js';
import { type Variable } from '../variable.js';
import { Args, tagged } from './args.js';
import { define, type ArrayMode, type Plan, type ReduceKind } from './define.js';
import { CUSTOM_SECTION, emitModule } from './emit.js';
import { FallbackRunner, schedule, type Program } from './fallback.js';
import type { Cond, Expr, KernelOps } from './graph.js';

export type { ArrayMode, ReduceKind } from './define.js';
export type { Expr, Cond, KernelOps, Operand } from './graph.js';

/** Which path a kernel runs on. */
export type KernelMode = 'compiled' | 'precompiled' | 'fallback';

type Names<S extends readonly string[]> = S[number];
type InoutNames<A> = { [K in keyof A]: A[K] extends 'inout' ? K : never }[keyof A];
type InNames<A> = { [K in keyof A]: A[K] extends 'in' ? K : never }[keyof A];

/** The arrays a kernel's run() takes: a Variable or a Float32Array view of the same wasm memory each. */
export type KernelArrays<A extends Record<string, ArrayMode>> = { readonly [K in keyof A]: Variable | Float32Array };
/** The scalars a kernel's run() takes, by name. */
export type KernelScalars<S extends readonly string[]> = { readonly [K in Names<S>]: number };

/** Options of an elementwise kernel: its body returns the new value of every 'inout' array. */
export interface KernelOptions<A extends Record<string, ArrayMode>, S extends readonly string[]> {
  /** Names the kernel in errors and in precompiled files. */
  name: string;
  /** Each array's name and whether it is only read ('in') or read and written ('inout'). */
  arrays: A;
  /** Names of the per-call numbers (float32, like an AssemblyScript kernel's f32 parameters). */
  scalars?: S;
  /** Runs once, on expressions, to record the computation. */
  body: (arrays: { readonly [K in keyof A]: Expr }, scalars: { readonly [K in Names<S>]: Expr }, ops: KernelOps) => { [K in InoutNames<A>]: Expr };
  /** Pairs [inArray, inoutArray] that may be passed the very same memory. */
  aliases?: readonly (readonly [keyof A & string, keyof A & string])[];
  /** false: never compile, always run the fallback (for testing it, or measuring it). Default true. */
  compile?: boolean;
  /**
   * Takes the step pipeline (docs/custom-optimizer.md): run()'s third argument, the record address
   * `this.pipeline`, makes every load of `gradient` unscaled and clipped, the load of `weight`
   * decayed, and its store update the weight's EMA average, as the separate passes would.
   */
  pipeline?: { weight: InoutNames<A> & string; gradient: InNames<A> & string };
}

/** Options of a reduction kernel: its body returns the per-element value to reduce. */
export interface ReductionOptions<A extends Record<string, ArrayMode>, S extends readonly string[]> {
  name: string;
  arrays: A;
  scalars?: S;
  reduce: ReduceKind;
  body: (arrays: { readonly [K in keyof A]: Expr }, scalars: { readonly [K in Names<S>]: Expr }, ops: KernelOps) => Expr;
  compile?: boolean;
}

/** Compiled modules by computation, shared by kernels that record the same graph. */
const moduleCache = new Map<string, WebAssembly.Module>();

const tagOf = (x: unknown): string => Object.prototype.toString.call(x);
// What engines say when compiling is forbidden: V8 embedders (workerd, edge-runtime), a browser's CSP.
const DISALLOWED = /code generation disallowed|disallowed by embedder|Wasm code generation|not allowed|Refused to compile|wasm-unsafe-eval/i;

/** True for a shared WebAssembly.Memory (its buffer is a SharedArrayBuffer). */
const isShared = (m: WebAssembly.Memory): boolean => tagOf(m.buffer) === '[object SharedArrayBuffer]';

/** One heap's way of running the kernel: an instance of the module, or the fallback's scratch. */
interface Binding {
  readonly heap: Heap;
  readonly fn: ((...args: number[]) => number) | null;
  readonly fallback: FallbackRunner | null;
  readonly simdEnabled: (() => number) | null;
}

export class Kernel<A extends Record<string, ArrayMode> = Record<string, ArrayMode>, S extends readonly string[] = readonly string[], R extends void | number = void> {
  readonly name: string;
  /** The computation, independent of names (what a precompiled module must carry). */
  readonly signature: string;
  private readonly plan: Plan;
  private bytes: Uint8Array | null = null;
  private module: WebAssembly.Module | null = null;
  private _mode: KernelMode;
  private program: Program | null = null;
  private readonly args: Args;
  private readonly callArgs: number[];
  // One binding per heap, looked up weakly (a heap its owner dropped is not kept alive); the
  // fallback's bindings are also listed, so release() can give their scratch back.
  private bindings = new WeakMap<Heap, Binding>();
  private scratch: Binding[] = [];
  private last: Binding | null = null;
  private readonly record = new PipeViews();

  /** @internal Use kernel(). */
  constructor(spec: unknown) {
    const plan = define(spec);
    this.plan = plan;
    this.name = plan.name;
    this.signature = plan.signature;
    this.args = new Args(plan);
    this.callArgs = tagged(plan.arrays.length + 2 + plan.scalars.length + (plan.pipeline ? 1 : 0));
    this._mode = 'fallback';
    if (plan.compile) this.compile();
  }

  /** 'compiled', 'precompiled' or 'fallback': the path run() takes. */
  get mode(): KernelMode {
    return this._mode;
  }

  /**
   * Names of the arrays and scalars, in the order of the compiled function's parameters (a
   * pipeline kernel's function takes the record's address after the scalars), and the pipeline's
   * arrays (null without one).
   */
  get parameters(): {
    readonly arrays: readonly string[];
    readonly modes: readonly ArrayMode[];
    readonly scalars: readonly string[];
    readonly pipeline: { readonly weight: string; readonly gradient: string } | null;
  } {
    const p = this.plan;
    return { arrays: p.arrays, modes: p.modes, scalars: p.scalars, pipeline: p.pipeline && { weight: p.arrays[p.pipeline.weight], gradient: p.arrays[p.pipeline.gradient] } };
  }

  /** The kernel's WebAssembly module as bytes (a copy): compile it ahead of time, then fromModule(). */
  toBytes(): Uint8Array {
    return this.emitted().slice();
  }

  /**
   * Runs from now on with `module`, compiled ahead of time from this kernel's toBytes() (or by
   * `npx wasm-optim compile`): the way for runtimes that forbid compiling wasm but allow
   * instantiating a module binding. Throws if the module is not this computation's. Returns this.
   */
  fromModule(module: WebAssembly.Module): this {
    if (tagOf(module) !== '[object WebAssembly.Module]') throw new TypeError(`kernel '${this.name}': fromModule expects a WebAssembly.Module`);
    const sections = WebAssembly.Module.customSections(module, CUSTOM_SECTION);
    const found = sections.length === 1 ? new TextDecoder().decode(sections[0]) : null;
    if (found !== this.signature) {
      throw new Error(
        `kernel '${this.name}': fromModule: this module ${found === null ? 'is not a wasm-optim kernel' : 'was compiled from a different kernel (or another version of this one)'}; ` +
          'compile it again from this kernel (kernel.toBytes(), or npx wasm-optim compile)',
      );
    }
    this.module = module;
    this._mode = 'precompiled';
    this.release();
    return this;
  }

  /**
   * Runs the kernel over the arrays (each a Variable or a Float32Array view of the same wasm
   * memory, all one length) with these scalars (numbers, rounded to float32). Checks everything
   * first; writes the 'inout' arrays (an elementwise kernel) or returns the reduction.
   * `pipeline`: for a kernel declared with `pipeline`, the record address a fusing optimizer's
   * updateStep gets from `this.pipeline`; 0 or undefined: none.
   */
  run(arrays: KernelArrays<A>, scalars?: KernelScalars<S>, pipeline?: number): R {
    const a = this.args;
    a.take(arrays, scalars);
    const heap = a.heap as Heap;
    const pl = pipeline === undefined || pipeline === 0 ? 0 : this.checkPipeline(pipeline, heap);
    const b = this.last !== null && this.last.heap === heap ? this.last : this.bind(heap);
    const n = a.n;
    if (b.fallback !== null) return b.fallback.run(a.ptr, n, a.scalar, pl) as R;
    const c = this.callArgs;
    const k = a.ptr.length;
    for (let j = 0; j < k; j++) c[j] = a.ptr[j];
    c[k] = n;
    c[k + 1] = b.simdEnabled === null || b.simdEnabled() !== 0 ? n & ~3 : 0;
    for (let s = 0; s < a.scalar.length; s++) c[k + 2 + s] = a.scalar[s];
    if (this.plan.pipeline !== null) c[c.length - 1] = pl;
    return Reflect.apply(b.fn as (...args: number[]) => number, undefined, c) as R;
  }

  /**
   * A non-zero pipeline argument: only the heap's own record (wasm memory has no bounds checks
   * within it), for a kernel that declared `pipeline`, and an EMA average inside memory (so the
   * loop cannot trap half-way). Returns the address.
   */
  private checkPipeline(pipeline: unknown, heap: Heap): number {
    const p = this.plan;
    if (typeof pipeline !== 'number') throw new TypeError(`kernel '${p.name}': run: pipeline must be a number (this.pipeline in updateStep), got ${describeValue(pipeline)}`);
    if (p.pipeline === null) {
      throw new TypeError(`kernel '${p.name}': run: pipeline: this kernel was defined without pipeline: { weight, gradient }, so it takes no pipeline record (pass 0 or nothing), got ${pipeline}`);
    }
    if (pipeline !== heap.pipeline) {
      throw new RangeError(`kernel '${p.name}': run: pipeline must be 0 or this heap's pipeline record address (this.pipeline in updateStep), got ${pipeline}`);
    }
    const v = this.record;
    v.bind(heap);
    if ((v.i32[REC_FLAGS] & PIPE_EMA) !== 0) {
      const delta = v.i32[REC_DELTA];
      const avg = this.args.ptr[p.pipeline.weight] + delta;
      if (avg < 0 || avg + this.args.n * 4 > heap.memory.buffer.byteLength) {
        throw new RangeError(`kernel '${p.name}': run: the pipeline record's EMA average (the weight's address + ${delta} bytes) does not lie inside wasm memory (a record of another step?)`);
      }
    }
    return pipeline;
  }

  /** Frees what the kernel holds in each heap (the fallback's scratch); the next run allocates it again. */
  release(): void {
    for (const b of this.scratch) b.fallback?.dispose();
    this.scratch = [];
    this.bindings = new WeakMap();
    this.last = null;
  }

  private emitted(): Uint8Array {
    return (this.bytes ??= emitModule(this.plan));
  }

  private compile(): void {
    const cached = moduleCache.get(this.signature);
    if (cached) {
      this.module = cached;
      this._mode = 'compiled';
      return;
    }
    const bytes = this.emitted();
    try {
      this.module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      const message = String((e as { message?: unknown } | null)?.message ?? e);
      if (DISALLOWED.test(message) && WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) return; // stays 'fallback'
      throw new Error(`kernel '${this.name}': compiling the generated module failed: ${message}`, { cause: e });
    }
    moduleCache.set(this.signature, this.module);
    this._mode = 'compiled';
  }

  /**
   * The module for a shared memory (a threaded arena): the same code with a shared memory import.
   * Null for a precompiled module (it imports an unshared memory) or where compiling is forbidden:
   * the multi-pass fallback runs instead.
   */
  private sharedModule(): WebAssembly.Module | null {
    if (this.module === null || this._mode === 'precompiled') return null;
    const key = `${this.signature}|shared`;
    let m = moduleCache.get(key) ?? null;
    if (m === null) {
      try {
        m = new WebAssembly.Module(emitModule(this.plan, true) as Uint8Array<ArrayBuffer>);
      } catch {
        return null;
      }
      moduleCache.set(key, m);
    }
    return m;
  }

  private bind(heap: Heap): Binding {
    let b = this.bindings.get(heap);
    if (!b) {
      const simd = heap.kernels.simdEnabled;
      const module = isShared(heap.memory) ? this.sharedModule() : this.module;
      if (module !== null) {
        const inst = new WebAssembly.Instance(module, { env: { memory: heap.memory } });
        const fn = inst.exports.run as (...args: number[]) => number;
        b = { heap, fn, fallback: null, simdEnabled: typeof simd === 'function' ? simd : null };
      } else {
        this.program ??= schedule(this.plan);
        b = { heap, fn: null, fallback: new FallbackRunner(this.plan, this.program, heap), simdEnabled: null };
      }
      this.bindings.set(heap, b);
      if (b.fallback !== null) this.scratch.push(b);
    }
    this.last = b;
    return b;
  }
}

/**
 * Defines a kernel. The body runs once, now, on expression objects, to record the computation;
 * the graph is checked (unknown names, arity, outputs) and compiled. See docs/custom-optimizer.md.
 */
export function kernel<const A extends Record<string, ArrayMode>, const S extends readonly string[] = readonly []>(options: ReductionOptions<A, S>): Kernel<A, S, number>;
export function kernel<const A extends Record<string, ArrayMode>, const S extends readonly string[] = readonly []>(options: KernelOptions<A, S>): Kernel<A, S, void>;
export function kernel(options: unknown): Kernel<Record<string, ArrayMode>, readonly string[], void | number> {
  return new Kernel(options);
}

export type { Cond as KernelCondition };
