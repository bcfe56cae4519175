// 8-bit optimizer slots (docs/int8-state.md): a slot stored blockwise as one byte per element and
// one float32 absmax per block of 256, in one allocation of the heap laid out as the kernels
// expect (assembly/quantize.ts): [scratch: 256 float32][absmax per block, padded to 16][codes].
// It is a Variable for everything that lists, names, frees or saves slots; its `value` is a
// dequantized copy, and its `ptr` is that allocation (what the *Int8 kernels take).
import { type Heap } from './arena.js';
import { Variable } from './variable.js';
import { absmaxBytes, blockCount, dequantize, type QuantKind, QBLOCK, type QuantizedState, quantizedEntry, SCRATCH_BYTES, slotBytes } from './int8-code.js';

/** A slot of `reference` stored in 8 bits (see the file comment). */
export class QuantizedSlot extends Variable {
  readonly kind: QuantKind;
  readonly rowSize: number;
  readonly blocks: number;
  private block: number;
  private readonly slotHeap: Heap;

  constructor(reference: Variable, name: string, kind: QuantKind, rowSize: number, initialValue: number) {
    // Variable's constructor keeps a float32 view over `size` floats at the pointer it is given;
    // the reference's own range has that size. It is never read: every accessor that would
    // (value, ptr, assign, rebind) is overridden below, and dispose() frees this slot's block.
    super({ length: reference.size }, { name, shape: reference.shape }, reference.heap, { ptr: reference.ptr });
    if (!Number.isInteger(rowSize) || rowSize < 1 || reference.size % rowSize !== 0) {
      throw new RangeError(`QuantizedSlot: rowSize ${rowSize} does not divide the size ${reference.size} of '${reference.name}'`);
    }
    this.kind = kind;
    this.rowSize = rowSize;
    this.blocks = blockCount(reference.size, rowSize);
    this.slotHeap = reference.heap;
    this.block = this.slotHeap.alloc(slotBytes(reference.size, rowSize));
    try {
      this.fill(initialValue);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Byte offset of this slot's block (scratch, absmax, codes): what the *Int8 kernels take. */
  override get ptr(): number {
    if (this.block < 0) throw new Error(`Variable '${this.name}' was disposed and cannot be used`);
    return this.block;
  }

  /**
   * A dequantized copy of the values (JS memory, made at each read): writing to it changes
   * nothing. Restore state with setState/loadState instead.
   */
  override get value(): Float32Array {
    return dequantize(this.state(false), new Float32Array(this.size));
  }

  override assign(values: ArrayLike<number>): void {
    void values;
    throw new Error(`Variable '${this.name}'.assign: an 8-bit optimizer slot cannot be assigned (its .value is a dequantized copy); restore optimizer state with setState or loadState`);
  }

  override rebind(ptr: number): void {
    void ptr;
    throw new Error(`Variable '${this.name}'.rebind: only wrapped variables can be rebound`);
  }

  override dispose(): void {
    if (this.block >= 0) this.slotHeap.free(this.block);
    this.block = -1;
    super.dispose();
  }

  /** Views (copy = false, valid until the next allocation) or copies of the codes and absmax. */
  state(copy = true): QuantizedState {
    const p = this.ptr;
    const buf = this.slotHeap.memory.buffer;
    const absmax = new Float32Array(buf, p + SCRATCH_BYTES, this.blocks);
    const codes = new Uint8Array(buf, p + SCRATCH_BYTES + absmaxBytes(this.size, this.rowSize), this.size);
    return { kind: this.kind, rowSize: this.rowSize, codes: copy ? codes.slice() : codes, absmax: copy ? absmax.slice() : absmax };
  }

  /**
   * Takes saved state: the exact codes when `q` has this slot's kind and layout, otherwise the
   * values, quantized (a float32 state, or another layout). Cannot fail once the entry was read.
   */
  restore(values: Float32Array, q: QuantizedState | undefined): void {
    if (q && q.kind === this.kind && q.rowSize === this.rowSize) {
      const dst = this.state(false);
      dst.codes.set(q.codes);
      dst.absmax.set(q.absmax);
    } else this.quantize(values);
  }

  /** Quantizes n float32 values into the slot with the kernel the step uses, a block at a time. */
  private quantize(values: Float32Array): void {
    const K = this.slotHeap.kernels;
    const p = this.ptr;
    const codes = p + SCRATCH_BYTES + absmaxBytes(this.size, this.rowSize);
    const scratch = new Float32Array(this.slotHeap.memory.buffer, p, QBLOCK);
    const signed = this.kind === 'signed' ? 1 : 0;
    for (let s = 0, bi = 0; s < this.size; s += this.rowSize) {
      for (let b = 0; b < this.rowSize; b += QBLOCK, bi++) {
        const len = Math.min(QBLOCK, this.rowSize - b);
        scratch.set(values.subarray(s + b, s + b + len));
        K.qQuantBlock(p, codes + s + b, p + SCRATCH_BYTES + bi * 4, len, signed, 0, 0, 0);
      }
    }
  }

  private fill(value: number): void {
    const K = this.slotHeap.kernels;
    const p = this.ptr;
    const codes = p + SCRATCH_BYTES + absmaxBytes(this.size, this.rowSize);
    K.fill(p, QBLOCK, value);
    const signed = this.kind === 'signed' ? 1 : 0;
    for (let s = 0, bi = 0; s < this.size; s += this.rowSize) {
      for (let b = 0; b < this.rowSize; b += QBLOCK, bi++) K.qQuantBlock(p, codes + s + b, p + SCRATCH_BYTES + bi * 4, Math.min(QBLOCK, this.rowSize - b), signed, 0, 0, 0);
    }
  }
}

/**
 * What getState() saves of a state variable: its values; for an 8-bit slot its exact codes and
 * absmax, the values being dequantized only if read (quantizedEntry).
 */
export function stateEntryOf(v: Variable): { shape: number[]; values: Float32Array; quantized?: QuantizedState } {
  if (v instanceof QuantizedSlot) return quantizedEntry(v.shape, v.state(true));
  return { shape: [...v.shape], values: v.value.slice() };
}

/** A copy of a restored entry for getState() (an 8-bit one stays lazy, see quantizedEntry). */
export function copyStateEntry(e: { shape: readonly number[]; values: Float32Array; quantized?: QuantizedState }): { shape: number[]; values: Float32Array; quantized?: QuantizedState } {
  const q = e.quantized;
  if (q) return quantizedEntry(e.shape, { ...q, codes: q.codes.slice(), absmax: q.absmax.slice() });
  return { shape: [...e.shape], values: e.values.slice() };
}

/** Writes a checked state entry into a state variable (see QuantizedSlot.restore). */
export function restoreInto(v: Variable, entry: { values: Float32Array; quantized?: QuantizedState }): void {
  if (v instanceof QuantizedSlot) v.restore(entry.values, entry.quantized);
  else v.value.set(entry.values);
}
