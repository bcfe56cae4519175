// Public SIMD primitives over Float32Array views of wasm memory, for custom optimizers that want
// kernel speed without writing AssemblyScript. Every argument is checked (wasm memory is
// unchecked): arrays must be views of the same heap's memory and of matching lengths.
import { type Heap } from './arena.js';
import { defaultHeap, setSimdEnabled } from './wasm.js';

let heapOverride: Heap | null = null;

function heapOf(name: string, x: Float32Array): Heap {
  const h = heapOverride ?? defaultHeap();
  if (!(x instanceof Float32Array)) throw new TypeError(`kernels: ${name} must be a Float32Array view of wasm memory`);
  if (x.buffer !== h.memory.buffer) {
    throw new TypeError(`kernels: ${name} must be a view of wasm memory (a Variable's .value, or a gradient passed to updateStep)`);
  }
  return h;
}

function same(name: string, x: Float32Array, ref: Float32Array): void {
  heapOf(name, x);
  if (x.length !== ref.length) throw new RangeError(`kernels: ${name} has ${x.length} elements, expected ${ref.length}`);
}

function scalar(name: string, a: number): number {
  if (typeof a !== 'number' || Number.isNaN(a)) throw new TypeError(`kernels: ${name} must be a number, got ${String(a)}`);
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
    h.kernels.axpy(y.byteOffset, x.byteOffset, y.length, scalar('a', a));
  },
  /** x *= a */
  scale(x: Float32Array, a: number): void {
    heapOf('x', x).kernels.scaleCopy(x.byteOffset, x.byteOffset, x.length, scalar('a', a));
  },
  /** dst = a * src */
  scaleCopy(dst: Float32Array, src: Float32Array, a: number): void {
    const h = heapOf('dst', dst);
    same('src', src, dst);
    h.kernels.scaleCopy(dst.byteOffset, src.byteOffset, dst.length, scalar('a', a));
  },
  /** dst = src */
  copy(dst: Float32Array, src: Float32Array): void {
    const h = heapOf('dst', dst);
    same('src', src, dst);
    h.kernels.copy(dst.byteOffset, src.byteOffset, dst.length);
  },
  /** x = value */
  fill(x: Float32Array, value: number): void {
    heapOf('x', x).kernels.fill(x.byteOffset, x.length, scalar('value', value));
  },
  /** avg = momentum * avg + (1 - momentum) * x */
  ema(avg: Float32Array, x: Float32Array, momentum: number): void {
    const h = heapOf('avg', avg);
    same('x', x, avg);
    h.kernels.ema(avg.byteOffset, x.byteOffset, avg.length, scalar('momentum', momentum));
  },
  /** x = clamp(x, -c, c) */
  clipByValue(x: Float32Array, c: number): void {
    heapOf('x', x).kernels.clipByValue(x.byteOffset, x.length, scalar('c', c));
  },
  /** Sum of squares, accumulated in float64. */
  sumSquares(x: Float32Array): number {
    return heapOf('x', x).kernels.sumSquares(x.byteOffset, x.length);
  },
  /** L2 norm. */
  norm(x: Float32Array): number {
    return Math.sqrt(kernels.sumSquares(x));
  },
  /** True when no element is NaN or infinite. */
  allFinite(x: Float32Array): boolean {
    return heapOf('x', x).kernels.allFinite(x.byteOffset, x.length) === 1;
  },
  /** Switches all kernels between SIMD (default) and the scalar loop. */
  setSimd(on: boolean): void {
    setSimdEnabled(on);
  },
};
