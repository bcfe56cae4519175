// Public SIMD primitives over Float32Array views of wasm memory, for custom optimizers that want
// kernel speed without writing AssemblyScript. Every argument is checked (wasm memory is
// unchecked): arrays must be views of the same heap's memory and of matching lengths, and an array
// that is read must not partially overlap the one written (the SIMD loop reads four elements
// before it writes them, the scalar loop one: the results would depend on the path). The same view
// is fine. Functions that update write into their first argument, as torch._foreach_*_ do.
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

/**
 * Returns `p` (an input of `n` floats, named `name`) after checking it is the written array `w`
 * (at `wp`) exactly or does not overlap it at all.
 */
function apart(name: string, p: number, w: string, wp: number, n: number): number {
  if (p !== wp && p < wp + n * 4 && wp < p + n * 4) {
    throw new RangeError(`kernels: ${name} partially overlaps ${w} (pass the same view, or arrays that do not overlap)`);
  }
  return p;
}

/** second() for an input that may also be a number: refuses anything else by name. */
function arrayInput(name: string, x: Float32Array, n: number): number {
  if (!isFloat32Array(x)) throw new TypeError(`kernels: ${name} must be a Float32Array view of wasm memory, or a number`);
  return second(name, x, n);
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
    h.kernels.axpy(yp, apart('x', second('x', x, n), 'y', yp, n), n, scalar('a', a));
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
    h.kernels.scaleCopy(dp, apart('src', second('src', src, n), 'dst', dp, n), n, scalar('a', a));
  },
  /** dst = src (overlapping arrays are copied as memmove does) */
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
    h.kernels.ema(ap, apart('x', second('x', x, n), 'avg', ap, n), n, scalar('momentum', momentum));
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
  // The torch._foreach_* family, in place on the first argument. Each is one SIMD pass; each step
  // is rounded to float32 in the order given, the same in the SIMD loop and the scalar loop.
  /** x = x * y, y an array or a number (float32 multiply). */
  mul(x: Float32Array, y: Float32Array | number): void {
    const h = checked('x', x);
    const xp = offset;
    const n = length;
    if (typeof y === 'number') h.kernels.scaleCopy(xp, xp, n, scalar('y', y));
    else h.kernels.ewMul(xp, xp, apart('y', arrayInput('y', y, n), 'x', xp, n), n);
  },
  /** x = x / y, y an array or a number (a true float32 division, never a multiply by 1 / y). */
  div(x: Float32Array, y: Float32Array | number): void {
    const h = checked('x', x);
    const xp = offset;
    const n = length;
    if (typeof y === 'number') h.kernels.divCopy(xp, xp, n, scalar('y', y));
    else h.kernels.ewDiv(xp, xp, apart('y', arrayInput('y', y, n), 'x', xp, n), n);
  },
  /** x = sqrt(x) (a negative element gives NaN). */
  sqrt(x: Float32Array): void {
    const h = checked('x', x);
    h.kernels.ewSqrt(offset, offset, length);
  },
  /** x = x + (value * t1) * t2, rounded in that order (PyTorch's CPU addcmul order). */
  addcmul(x: Float32Array, t1: Float32Array, t2: Float32Array, value = 1): void {
    const h = checked('x', x);
    const xp = offset;
    const n = length;
    const p1 = apart('t1', second('t1', t1, n), 'x', xp, n);
    const p2 = apart('t2', second('t2', t2, n), 'x', xp, n);
    h.kernels.foreachAddcmul(xp, p1, p2, n, scalar('value', value));
  },
  /** x = x + (value * t1) / t2, rounded in that order (PyTorch's CPU addcdiv order; a true division). */
  addcdiv(x: Float32Array, t1: Float32Array, t2: Float32Array, value = 1): void {
    const h = checked('x', x);
    const xp = offset;
    const n = length;
    const p1 = apart('t1', second('t1', t1, n), 'x', xp, n);
    const p2 = apart('t2', second('t2', t2, n), 'x', xp, n);
    h.kernels.foreachAddcdiv(xp, p1, p2, n, scalar('value', value));
  },
  /**
   * x = x + weight * (end - x), computed as PyTorch does: for |weight| < 0.5,
   * x + (end - x) * weight; otherwise end - (end - x) * (1 - weight), so weight 1 gives end exactly.
   * weight is a number (the side is chosen once) or an array (chosen per element).
   */
  lerp(x: Float32Array, end: Float32Array, weight: Float32Array | number): void {
    const h = checked('x', x);
    const xp = offset;
    const n = length;
    const ep = apart('end', second('end', end, n), 'x', xp, n);
    if (typeof weight === 'number') h.kernels.foreachLerp(xp, ep, n, scalar('weight', weight));
    else h.kernels.foreachLerpTensor(xp, ep, apart('weight', arrayInput('weight', weight, n), 'x', xp, n), n);
  },
  /** x = max(x, y): a NaN in either gives NaN (as torch.maximum), and max(-0, +0) is +0. */
  maximum(x: Float32Array, y: Float32Array): void {
    const h = checked('x', x);
    const xp = offset;
    const n = length;
    h.kernels.ewMax(xp, xp, apart('y', second('y', y, n), 'x', xp, n), n);
  },
  /** x = sign(x): 1, -1, 0 for either zero, and NaN stays NaN (torch.sign gives 0 for NaN; NumPy and Keras keep it). */
  sign(x: Float32Array): void {
    const h = checked('x', x);
    h.kernels.ewSign(offset, offset, length);
  },
  /** Switches all kernels between SIMD (default) and the scalar loop. */
  setSimd(on: boolean): void {
    setSimdEnabled(on);
  },
};
