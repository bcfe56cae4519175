// The 8-bit code of optimizer slots (docs/int8-state.md, assembly/quantize.ts), in plain JS:
// layout arithmetic, reading a saved quantized entry, and dequantizing (checkpoints are decoded
// without wasm). The same bits as the kernels' qDequantBlock (tested).
import { typedArrayTag } from './typed.js';
import { describeValue } from './validate.js';

/** How a slot is stored: 'float32' (the default) or 'int8' (blockwise 8-bit, docs/int8-state.md). */
export type StateDtype = 'float32' | 'int8';

/** Which 8-bit code a slot uses: 'signed' for first moments, 'unsigned' for second moments. */
export type QuantKind = 'signed' | 'unsigned';

/** Elements per block (one float32 absmax each). */
export const QBLOCK = 256;
/** Variables with fewer elements keep float32 slots under stateDtype 'int8' (as bitsandbytes). */
export const INT8_MIN_SIZE = 4096;
/**
 * Optimizers whose sparse step updates rows (LazyAdam, Adagrad) lay 8-bit slots out by row; rows
 * narrower than this keep float32 slots (an absmax per row would cost more than it saves).
 */
export const INT8_MIN_ROW = 16;
/** Bytes of a slot's scratch (QBLOCK float32) before its absmax. */
export const SCRATCH_BYTES = 1024;
const CODE = {
  signed: { bias: 895, max: 121 },
  unsigned: { bias: 767, max: 249 },
} as const;

/** The exact 8-bit state of a slot, as getState() returns it and checkpoints store it. */
export interface QuantizedState {
  kind: QuantKind;
  /** Blocks never straddle rows of this many elements (the variable's size unless laid out by row). */
  rowSize: number;
  /** One code per element. */
  codes: Uint8Array;
  /** One absmax per block: ceil(rowSize / 256) blocks per row. */
  absmax: Float32Array;
}

/**
 * The seed of a step's stochastic rounding of second moments (docs/int8-state.md): a function of
 * the 1-based update number only, so a resumed run rounds as the uninterrupted one.
 */
export function roundingSeed(step: number): number {
  return Math.imul(step, 0x632be5ab) & 0x3fffffff; // 30 bits: a small integer in V8, never boxed
}

/** Reads the stateDtype option: 'float32' (default) or 'int8'. */
export function readStateDtype(className: string, value: unknown): StateDtype {
  if (value === undefined) return 'float32';
  if (value !== 'float32' && value !== 'int8') {
    throw new TypeError(`${className}: stateDtype must be 'float32' or 'int8', got ${describeValue(value)}`);
  }
  return value;
}

/** Number of absmax blocks of a slot of n elements laid out in rows of rowSize. */
export function blockCount(n: number, rowSize: number): number {
  return (n / rowSize) * Math.ceil(rowSize / QBLOCK);
}

/** Bytes from a slot's absmax to its codes (the absmax array padded to 16). */
export function absmaxBytes(n: number, rowSize: number): number {
  return (blockCount(n, rowSize) * 4 + 15) & ~15;
}

/** Bytes of a slot's allocation. */
export function slotBytes(n: number, rowSize: number): number {
  return SCRATCH_BYTES + absmaxBytes(n, rowSize) + n;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Dequantizes in JS (checkpoints are decoded without wasm); the same bits as qDequantBlock. */
export function dequantize(state: QuantizedState, out: Float32Array): Float32Array {
  const { bias } = CODE[state.kind];
  const signed = state.kind === 'signed';
  const { codes, absmax, rowSize } = state;
  const per = Math.ceil(rowSize / QBLOCK);
  for (let s = 0, bi = 0; s < codes.length; s += rowSize, bi += per) {
    for (let i = 0; i < rowSize; i++) {
      const c = codes[s + i];
      const k = signed ? c & 0x7f : c;
      u32[0] = k === 0 ? 0 : (((k + bias) << 20) | (signed ? (c & 0x80) << 24 : 0)) >>> 0;
      out[s + i] = Math.fround(f32[0] * absmax[bi + Math.floor(i / QBLOCK)]);
    }
  }
  return out;
}

/**
 * A state entry of an 8-bit slot whose `values` (the dequantized copy) are computed when first read:
 * saving or restoring 8-bit state never holds 4 bytes per element of float32 copies (an edge isolate
 * may not have them to spare).
 */
export function quantizedEntry(shape: readonly number[], quantized: QuantizedState): { shape: number[]; values: Float32Array; quantized: QuantizedState } {
  let values: Float32Array | null = null;
  const entry = { shape: [...shape], quantized } as { shape: number[]; values: Float32Array; quantized: QuantizedState };
  Object.defineProperty(entry, 'values', {
    enumerable: true,
    get: () => (values ??= dequantize(quantized, new Float32Array(quantized.codes.length))),
  });
  return entry;
}

/** The index of the first code above the kind's largest, or -1. */
export function invalidCode(codes: Uint8Array, kind: QuantKind): number {
  const max = CODE[kind].max;
  for (let i = 0; i < codes.length; i++) if ((kind === 'signed' ? codes[i] & 0x7f : codes[i]) > max) return i;
  return -1;
}

/**
 * Reads a `quantized` state entry once (a caller's object may have getters), into private copies
 * checked against the entry's size.
 */
export function readQuantized(raw: unknown, size: number, name: string, where: string): QuantizedState {
  const bad = (why: string): never => {
    throw new Error(`${where}: '${name}': quantized must be { kind, rowSize, codes, absmax } as getState() returns it: ${why}`);
  };
  if (raw === null || typeof raw !== 'object') return bad(`got ${describeValue(raw)}`);
  const r = raw as Record<string, unknown>;
  const kind = r.kind;
  const rowSize = r.rowSize;
  const codes: unknown = r.codes;
  const absmax: unknown = r.absmax;
  if (kind !== 'signed' && kind !== 'unsigned') return bad(`kind is ${describeValue(kind)}, expected 'signed' or 'unsigned'`);
  if (typeof rowSize !== 'number' || !Number.isInteger(rowSize) || rowSize < 1 || size % rowSize !== 0) {
    return bad(`rowSize is ${describeValue(rowSize)}, expected a positive integer dividing ${size}`);
  }
  if (typedArrayTag(codes) !== 'Uint8Array') return bad('codes must be a Uint8Array');
  if (typedArrayTag(absmax) !== 'Float32Array') return bad('absmax must be a Float32Array');
  const c = new Uint8Array(codes as Uint8Array); // copies by the engine's length
  const a = new Float32Array(absmax as Float32Array);
  if (c.length !== size) return bad(`${c.length} codes, expected ${size}`);
  const blocks = blockCount(size, rowSize);
  if (a.length !== blocks) return bad(`${a.length} absmax values, expected ${blocks}`);
  const at = invalidCode(c, kind);
  if (at >= 0) return bad(`codes[${at}] = ${c[at]} is not a ${kind} code`);
  for (let i = 0; i < a.length; i++) if (a[i] < 0 || Object.is(a[i], -0)) return bad(`absmax[${i}] = ${a[i]} is negative`);
  return { kind, rowSize, codes: c, absmax: a };
}
