// Intrinsic reads of typed arrays. A subclass can override `length`, `byteOffset` or `buffer`,
// and an own property can shadow them; wasm memory has no bounds checks, so anything that turns
// those numbers into pointers must read the engine's values. The %TypedArray%.prototype getters
// are captured once at module load (before user code can replace them) and called on the object.

type Getter<T> = (this: unknown) => T;

const TypedArrayPrototype = Object.getPrototypeOf(Float32Array.prototype) as object;

function intrinsicGetter<T>(key: PropertyKey): Getter<T> {
  const get = Object.getOwnPropertyDescriptor(TypedArrayPrototype, key)?.get;
  if (typeof get !== 'function') throw new Error(`wasm-optim: %TypedArray%.prototype has no ${String(key)} getter`);
  return get as Getter<T>;
}

const getLength = intrinsicGetter<number>('length');
const getByteOffset = intrinsicGetter<number>('byteOffset');
const getBuffer = intrinsicGetter<ArrayBufferLike>('buffer');
// Returns the element type's name for a genuine typed array and undefined for anything else (an
// object whose prototype was set to Float32Array.prototype passes instanceof but not this).
const getTag = intrinsicGetter<string | undefined>(Symbol.toStringTag);
const call = Function.prototype.call.bind(Function.prototype.call) as <T>(fn: Getter<T>, self: unknown) => T;

/** The element type's name ('Float32Array', ...) of a genuine typed array, else undefined. */
export function typedArrayTag(x: unknown): string | undefined {
  return call(getTag, x);
}

/** True only for a genuine Float32Array (subclasses included), whatever its properties say. */
export function isFloat32Array(x: unknown): x is Float32Array {
  return call(getTag, x) === 'Float32Array';
}

/** True only for a genuine Int32Array (subclasses included), whatever its properties say. */
export function isInt32Array(x: unknown): x is Int32Array {
  return call(getTag, x) === 'Int32Array';
}

/** The element count the engine holds for `x` (0 once its buffer is detached). `x` must be a typed array. */
export function typedLength(x: ArrayBufferView): number {
  return call(getLength, x);
}

/** The byte offset the engine holds for `x` (0 once its buffer is detached). `x` must be a typed array. */
export function typedByteOffset(x: ArrayBufferView): number {
  return call(getByteOffset, x);
}

/** The buffer the engine holds for `x`. `x` must be a typed array. */
export function typedBuffer(x: ArrayBufferView): ArrayBufferLike {
  return call(getBuffer, x);
}
