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
function heapOf(name: string, x: Float32Array): Heap {
  const h = heapOverride ?? defaultHeap();
  if (!isFloat32Array(x)) throw new TypeError(`kernels: ${name} must be a Float32Array view of wasm memory`);
  const buffer = h.memory.buffer;
  if (typedBuffer(x) !== buffer) {
    throw new TypeError(`kernels: ${name} must be a view of wasm memory (a Variable's .value, or a gradient passed to updateStep)`);
  }
  // A genuine view of the current buffer always fits; checked anyway, as the kernels cannot.
  if (typedByteOffset(x) + typedLength(x) * 4 > buffer.byteLength) {
    throw new RangeError(`kernels: ${name} does not lie inside wasm memory`);
  }
  return h;
}

function same(name: string, x: Float32Array, ref: Float32Array): void {
  heapOf(name, x);
  const n = typedLength(x);
  if (n !== typedLength(ref)) throw new RangeError(`kernels: ${name} has ${n} elements, expected ${typedLength(ref)}`);
}

const ptr = typedByteOffset;
const len = typedLength;

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
    const h = heapOf('y', y);
    same('x', x, y);
    h.kernels.axpy(ptr(y), ptr(x), len(y), scalar('a', a));
  },
  /** x *= a */
  scale(x: Float32Array, a: number): void {
    heapOf('x', x).kernels.scaleCopy(ptr(x), ptr(x), len(x), scalar('a', a));
  },
  /** dst = a * src */
  scaleCopy(dst: Float32Array, src: Float32Array, a: number): void {
    const h = heapOf('dst', dst);
    same('src', src, dst);
    h.kernels.scaleCopy(ptr(dst), ptr(src), len(dst), scalar('a', a));
  },
  /** dst = src */
  copy(dst: Float32Array, src: Float32Array): void {
    const h = heapOf('dst', dst);
    same('src', src, dst);
    h.kernels.copy(ptr(dst), ptr(src), len(dst));
  },
  /** x = value */
  fill(x: Float32Array, value: number): void {
    heapOf('x', x).kernels.fill(ptr(x), len(x), scalar('value', value));
  },
  /** avg = momentum * avg + (1 - momentum) * x */
  ema(avg: Float32Array, x: Float32Array, momentum: number): void {
    const h = heapOf('avg', avg);
    same('x', x, avg);
    h.kernels.ema(ptr(avg), ptr(x), len(avg), scalar('momentum', momentum));
  },
  /** x = clamp(x, -c, c) */
  clipByValue(x: Float32Array, c: number): void {
    heapOf('x', x).kernels.clipByValue(ptr(x), len(x), scalar('c', c));
  },
  /** Sum of squares, accumulated in float64. */
  sumSquares(x: Float32Array): number {
    return heapOf('x', x).kernels.sumSquares(ptr(x), len(x));
  },
  /** L2 norm. */
  norm(x: Float32Array): number {
    return Math.sqrt(kernels.sumSquares(x));
  },
  /** True when no element is NaN or infinite. */
  allFinite(x: Float32Array): boolean {
    return heapOf('x', x).kernels.allFinite(ptr(x), len(x)) === 1;
  },
  /** Switches all kernels between SIMD (default) and the scalar loop. */
  setSimd(on: boolean): void {
    setSimdEnabled(on);
  },
};
