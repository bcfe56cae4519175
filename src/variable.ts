// A float32 tensor whose values live in a kernel module's linear memory, so kernels update it in
// place. Slots (moments, accumulators) are Variables too.
import { type Heap } from './arena.js';
import { typedArrayTag, typedBuffer, typedByteOffset, typedLength } from './typed.js';
import { checkOptions, checkShape, describeValue, sizeOf } from './validate.js';
import { defaultHeap } from './wasm.js';

export interface VariableOptions {
  /** Used to key optimizer state and to match `excludeFromWeightDecay({ names })`. */
  name?: string;
  /** Defaults to `[values.length]`; its product must equal the number of values. `[]` is a scalar (1 value). */
  shape?: readonly number[];
}

let unnamed = 0;
/** The sources `Variable.zeros` makes: the constructor fills these with zeros in place. */
const zeroSources = new WeakSet<object>();

export class Variable {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  /** The memory and allocator this variable lives in. */
  readonly heap: Heap;
  private _ptr: number;
  private view: Float32Array;

  private readonly owned: boolean;

  /**
   * Copies `values` into wasm memory. Requires `await ready()` first. `heap` defaults to the
   * library's arena; `external` is for integrations (see `Variable.wrap`).
   */
  constructor(values: ArrayLike<number>, options: VariableOptions = {}, heap: Heap = defaultHeap(), external?: { ptr: number }) {
    if (values === null || typeof values !== 'object') {
      throw new TypeError('Variable: values must be an array-like of numbers (e.g. a Float32Array)');
    }
    options = checkOptions('Variable', options);
    if (heap === null || typeof heap !== 'object' || typeof heap.alloc !== 'function' || !(heap.memory instanceof WebAssembly.Memory)) {
      throw new TypeError('Variable: heap must be a Heap ({ memory, kernels, alloc, free }), e.g. defaultHeap()');
    }
    // Each option is read once: a getter cannot pass a check with one value and be used with another.
    const rawShape: unknown = options.shape;
    const name: unknown = options.name;
    const given = rawShape === undefined ? null : checkShape('Variable: options.shape', rawShape);
    // The source last: no user code (a getter, a Proxy trap) runs between taking a wasm-memory
    // source's offset here and the copy below. Its length and elements are read once.
    const zero = zeroSources.has(values);
    const src = external === undefined && !zero ? sourceOf('Variable', values, heap) : { count: values.length, ptr: -1, data: null, read: null };
    const shape = given ?? [src.count];
    const size = sizeOf(shape);
    if (size !== src.count || size === 0) {
      throw new RangeError(
        `Variable: options.shape ${JSON.stringify(shape)} holds ${size} values but ${src.count} were given (at least 1 needed)`,
      );
    }
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      throw new TypeError('Variable: options.name must be a non-empty string');
    }
    const data = src.read ? src.read() : src.data;
    this.name = (name as string | undefined) ?? (unnamed++ === 0 ? 'variable' : `variable_${unnamed - 1}`);
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.heap = heap;
    this.owned = external === undefined;
    // Allocating may grow the memory and detach a source that is a view of it: such a source is
    // copied by its byte offset, taken before the allocation. The block is freed if anything fails.
    this._ptr = external ? checkPtr(heap, external.ptr, size) : heap.alloc(size * 4);
    try {
      this.view = new Float32Array(heap.memory.buffer, this._ptr, size);
      if (zero) heap.kernels.fill(this._ptr, size, 0);
      else if (this.owned) {
        if (src.ptr >= 0) new Uint8Array(heap.memory.buffer).copyWithin(this._ptr, src.ptr, src.ptr + size * 4);
        else this.view.set(data as ArrayLike<number>);
      }
    } catch (e) {
      if (this.owned) heap.free(this._ptr);
      this._ptr = -1;
      throw e;
    }
  }

  /**
   * A variable over memory it does not own (a tensor of an integration such as the tfjs wasm
   * backend): no copy is made, `dispose()` does not free it, and `rebind()` moves it when the
   * owner relocates the data.
   */
  static wrap(heap: Heap, ptr: number, shape: readonly number[], options: Omit<VariableOptions, 'shape'> = {}): Variable {
    const s = checkShape('Variable.wrap: shape', shape);
    return new Variable({ length: sizeOf(s) }, { ...options, shape: s }, heap, { ptr });
  }

  /** Points a wrapped variable at new memory (its owner moved the data). */
  rebind(ptr: number): void {
    if (this.owned) throw new Error(`Variable '${this.name}'.rebind: only wrapped variables can be rebound`);
    if (this._ptr < 0) throw this.disposedError();
    this._ptr = checkPtr(this.heap, ptr, this.size);
    this.view = new Float32Array(this.heap.memory.buffer, this._ptr, this.size);
  }

  /** A zero-filled variable of the given shape. */
  static zeros(shape: readonly number[], options: Omit<VariableOptions, 'shape'> = {}, heap?: Heap): Variable {
    const s = checkShape('Variable.zeros: shape', shape);
    // Zero-filled in wasm memory directly: no JS array of the same size (slots of a 300M-float
    // variable would otherwise cost 1.2 GB of JS memory each, however briefly).
    const zeros = { length: sizeOf(s) };
    zeroSources.add(zeros);
    return new Variable(zeros, { ...options, shape: s }, heap);
  }

  /**
   * Live view of the values in wasm memory, updated in place by optimizers. Re-derived when the
   * memory grows, so it is never a detached view; do not keep it across allocations.
   */
  get value(): Float32Array {
    if (this._ptr < 0) throw this.disposedError();
    if (this.view.buffer !== this.heap.memory.buffer) {
      this.view = new Float32Array(this.heap.memory.buffer, this._ptr, this.size);
    }
    return this.view;
  }

  /** Byte offset of the first value in wasm memory (what kernels take). */
  get ptr(): number {
    if (this._ptr < 0) throw this.disposedError();
    return this._ptr;
  }

  get disposed(): boolean {
    return this._ptr < 0;
  }

  /** Copies `values` (same size) into the variable. On error the variable is unchanged. */
  assign(values: ArrayLike<number>): void {
    if (this._ptr < 0) throw this.disposedError();
    const where = `Variable '${this.name}'.assign`;
    if (values === null || typeof values !== 'object') {
      throw new RangeError(`${where}: values must hold ${this.size} numbers, got ${describeValue(values)}`);
    }
    const src = sourceOf(where, values, this.heap);
    if (src.count !== this.size) throw new RangeError(`${where}: values must hold ${this.size} numbers, got ${src.count}`);
    const data = src.read ? src.read() : src.data;
    // The destination last, after every getter of the source has run (one could have disposed or
    // moved this variable). No allocation happens here, so a wasm-memory source is still attached;
    // set() copies overlapping ranges correctly.
    const view = this.value;
    if (src.ptr >= 0) view.set(new Float32Array(this.heap.memory.buffer, src.ptr, src.count));
    else view.set(data as ArrayLike<number>);
  }

  /** Returns the memory to the heap; any later use throws. Idempotent. */
  dispose(): void {
    if (this._ptr < 0) return;
    if (this.owned) this.heap.free(this._ptr);
    this._ptr = -1;
    this.view = new Float32Array(0);
  }

  private disposedError(): Error {
    return new Error(`Variable '${this.name}' was disposed and cannot be used`);
  }
}

/** Wasm memory is unchecked: a pointer must be 4-byte aligned and the whole range inside memory. */
function checkPtr(heap: Heap, ptr: number, size: number): number {
  if (!Number.isInteger(ptr) || ptr <= 0 || ptr % 4 !== 0 || ptr + size * 4 > heap.memory.buffer.byteLength) {
    throw new RangeError(`Variable: pointer ${ptr} (+${size * 4} bytes) is not an aligned range inside wasm memory`);
  }
  return ptr;
}

/**
 * The values to copy, read once. A Float32Array view of `heap`'s memory is kept as a byte offset
 * (`ptr`); another typed array is read through its internal slots (its own properties are ignored)
 * and converted to float32 before any allocation when it lives in `heap`'s memory; a plain
 * array-like's length is read once here and its elements once in `read()`, into a copy the library
 * owns. A finite value that float32 cannot hold (1e39) is refused rather than stored as Infinity.
 */
function sourceOf(where: string, values: object, heap: Heap): { count: number; ptr: number; data: ArrayLike<number> | null; read: (() => Float32Array) | null } {
  const tag = typedArrayTag(values);
  if (tag !== undefined) {
    if (tag === 'BigInt64Array' || tag === 'BigUint64Array') throw new TypeError(`${where}: values must hold numbers, got a ${tag}`);
    const view = values as unknown as Float64Array;
    const count = typedLength(view);
    const inHeap = typedBuffer(view) === heap.memory.buffer;
    if (tag === 'Float32Array') return inHeap ? { count, ptr: typedByteOffset(view), data: null, read: null } : { count, ptr: -1, data: view, read: null };
    if (tag === 'Float64Array') return { count, ptr: -1, data: null, read: () => narrowed(where, view) };
    // Integers of at most 32 bits: every one is a finite float32.
    return { count, ptr: -1, data: inHeap ? new Float32Array(view) : view, read: null };
  }
  const list = values as ArrayLike<unknown>;
  const count: unknown = list.length;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new TypeError(`${where}: values must be an array-like of numbers (e.g. a Float32Array), got a length of ${describeValue(count)}`);
  }
  const read = (): Float32Array => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const x = list[i];
      if (typeof x !== 'number') throw new TypeError(`${where}: values[${i}] must be a number, got ${typeof x}`);
      out[i] = x;
      if (out[i] === Infinity || out[i] === -Infinity) checkFloat32(where, i, x);
    }
    return out;
  };
  return { count, ptr: -1, data: null, read };
}

/** A float32 copy of a Float64Array (read through its internal slots). */
function narrowed(where: string, src: Float64Array): Float32Array {
  const out = new Float32Array(src);
  for (let i = 0; i < out.length; i++) if (out[i] === Infinity || out[i] === -Infinity) checkFloat32(where, i, src[i]);
  return out;
}

function checkFloat32(where: string, i: number, x: number): void {
  if (Number.isFinite(x)) throw new RangeError(`${where}: values[${i}] is ${x}, which float32 cannot hold (${Math.fround(x)} in float32)`);
}
