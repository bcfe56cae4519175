// Public SIMD primitives over Float32Array views of wasm memory, for custom optimizers that want
// kernel speed without writing AssemblyScript. Every argument is checked (wasm memory is
// unchecked): arrays must be views of the same heap's memory and of matching lengths.
import { type Heap } from './arena.js';
import { isFloat32Array, typedBuffer, typedByteOffset, typedLength } from './typed.js';
import { describeValue } from './validate.js';
import { defaultHeap, setSimdEnabled } from './wasm.js';

let heapOverride: Heap | null = null;

// Pointers and lengths come from the engine's own values (src/typed.ts), never from the object's
// properties: a subclass getter or an own property could otherwise aim a kernel at other memory.
// checked() leaves the array's offset and length here (module state, so a call allocates nothing).
let offset = 0;
let length = 0;

function checked(name: string, x: Float32Array): Heap {
  const h = heapOverride ?? defaultHeap();
  if (!isFloat32Array(x)) throw new TypeError(`kernels: ${name} must be a Float32Array view of wasm memory`);
  const buffer = h.memory.buffer;
  if (typedBuffer(x) !== buffer) {
    throw new TypeError(`kernels: ${name} must be a view of wasm memory (a Variable's .value, or a gradient passed to updateStep)`);
  }
  offset = typedByteOffset(x);
  length = typedLength(x);
  // A genuine view of the current buffer always fits; checked anyway, as the kernels cannot.
  if (offset + length * 4 > buffer.byteLength) throw new RangeError(`kernels: ${name} does not lie inside wasm memory`);
  return h;
}

/** Checks `x` like checked() and that it has `n` elements; returns its offset. */
function second(name: string, x: Float32Array, n: number): number {
  checked(name, x);
  if (length !== n) throw new RangeError(`kernels: ${name} has ${length} elements, expected ${n}`);
  return offset;
}

/** A number for an f32 kernel parameter: Infinity is allowed, a finite value that rounds to it is not. */
function scalar(name: string, a: number): number {
  if (typeof a !== 'number' || Number.isNaN(a)) throw new TypeError(`kernels: ${name} must be a number, got ${describeValue(a)}`);
  if (Number.isFinite(a) && !Number.isFinite(Math.fround(a))) {
    throw new RangeError(`kernels: ${name} must be representable in float32, got ${a} (${Math.fround(a)} in float32)`);
  }
  return a;
}

/** Runs `fn` with the kernels bound to `heap` (used by integrations with a foreign heap). */
export function withHeap<T>(heap: Heap, fn: () => T): T {
  const prev = heapOverride;
  heapOverride = heap;
  try {
    return fn();
  } finally {
    heapOverride = prev;
  }
}

export const kernels = {
  /** y += a * x */
  axpy(y: Float32Array, x: Float32Array, a: number): void {
    const h = checked('y', y);
    const yp = offset;
    const n = length;
    h.kernels.axpy(yp, second('x', x, n), n, scalar('a', a));
  },
  /** x *= a */
  scale(x: Float32Array, a: number): void {
    const h = checked('x', x);
    h.kernels.scaleCopy(offset, offset, length, scalar('a', a));
  },
  /** dst = a * src */
  scaleCopy(dst: Float32Array, src: Float32Array, a: number): void {
    const h = checked('dst', dst);
    const dp = offset;
    const n = length;
    h.kernels.scaleCopy(dp, second('src', src, n), n, scalar('a', a));
  },
  /** dst = src */
  copy(dst: Float32Array, src: Float32Array): void {
    const h = checked('dst', dst);
    const dp = offset;
    const n = length;
    h.kernels.copy(dp, second('src', src, n), n);
  },
  /** x = value */
  fill(x: Float32Array, value: number): void {
    const h = checked('x', x);
    h.kernels.fill(offset, length, scalar('value', value));
  },
  /** avg = momentum * avg + (1 - momentum) * x */
  ema(avg: Float32Array, x: Float32Array, momentum: number): void {
    const h = checked('avg', avg);
    const ap = offset;
    const n = length;
    h.kernels.ema(ap, second('x', x, n), n, scalar('momentum', momentum));
  },
  /** x = clamp(x, -c, c) */
  clipByValue(x: Float32Array, c: number): void {
    const h = checked('x', x);
    h.kernels.clipByValue(offset, length, scalar('c', c));
  },
  /** Sum of squares, accumulated in float64. */
  sumSquares(x: Float32Array): number {
    const h = checked('x', x);
    return h.kernels.sumSquares(offset, length);
  },
  /** L2 norm. */
  norm(x: Float32Array): number {
    return Math.sqrt(kernels.sumSquares(x));
  },
  /** True when no element is NaN or infinite. */
  allFinite(x: Float32Array): boolean {
    const h = checked('x', x);
    return h.kernels.allFinite(offset, length) === 1;
  },
  /** Switches all kernels between SIMD (default) and the scalar loop. */
  setSimd(on: boolean): void {
    setSimdEnabled(on);
  },
};
