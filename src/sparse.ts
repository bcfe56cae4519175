// Sparse gradients: validation of row indices (wasm memory is unchecked, so every index that
// reaches a kernel is checked here) and de-duplication into unique, sorted rows with duplicate
// rows summed, as TF's _resource_apply_sparse_duplicate_indices does.
import { type Heap } from './arena.js';
import { type Variable } from './variable.js';

/** A sparse gradient: whole rows of the variable's first dimension. Indices may repeat. */
export interface SparseGradient {
  indices: Int32Array | readonly number[];
  values: Float32Array;
}

/** What `updateStepSparse` receives: unique, ascending indices and their summed rows. */
export interface UniqueSparseGradient {
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

export const isSparse = (g: unknown): g is SparseGradient =>
  typeof g === 'object' && g !== null && !ArrayBuffer.isView(g) && 'indices' in g && 'values' in g;

/** Throws (naming the variable) unless `g` is a valid sparse gradient for `v`. */
export function validateSparse(g: SparseGradient, v: Variable, where: string): void {
  const { indices, values } = g;
  if (!(indices instanceof Int32Array) && !Array.isArray(indices)) {
    throw new TypeError(`${where}: sparse indices for '${v.name}' must be an Int32Array or an array of integers`);
  }
  if (!(values instanceof Float32Array)) {
    throw new TypeError(`${where}: sparse values for '${v.name}' must be a Float32Array`);
  }
  const rows = v.shape[0];
  const rowSize = v.size / rows;
  if (values.length !== indices.length * rowSize) {
    throw new RangeError(
      `${where}: sparse values for '${v.name}' must hold indices.length * ${rowSize} = ${indices.length * rowSize} numbers (whole rows of shape ${JSON.stringify(v.shape.slice(1))}), got ${values.length}`,
    );
  }
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r >= rows) {
      throw new RangeError(
        `${where}: sparse index ${String(r)} at position ${i} for '${v.name}' must be an integer in [0, ${rows})`,
      );
    }
  }
}

/** A growable scratch region of wasm memory with cached typed views (re-derived on growth). */
class Scratch {
  ptr = 0;
  cap = 0;
  private f32 = new Float32Array(0);
  private i32 = new Int32Array(0);

  constructor(private readonly heap: Heap) {}

  /** Makes room for `n` 4-byte elements (contents are not kept). */
  reserve(n: number): void {
    if (n <= this.cap) return;
    if (this.ptr) this.heap.free(this.ptr);
    this.cap = Math.max(n, this.cap * 2, 16);
    this.ptr = this.heap.alloc(this.cap * 4);
  }

  floats(): Float32Array {
    const buf = this.heap.memory.buffer;
    if (this.f32.buffer !== buf || this.f32.byteOffset !== this.ptr || this.f32.length !== this.cap) {
      this.f32 = new Float32Array(buf, this.ptr, this.cap);
    }
    return this.f32;
  }

  ints(): Int32Array {
    const buf = this.heap.memory.buffer;
    if (this.i32.buffer !== buf || this.i32.byteOffset !== this.ptr || this.i32.length !== this.cap) {
      this.i32 = new Int32Array(buf, this.ptr, this.cap);
    }
    return this.i32;
  }

  dispose(): void {
    if (this.ptr) this.heap.free(this.ptr);
    this.ptr = this.cap = 0;
  }
}

/** Per-variable scratch for de-duplication, reused across steps (no allocation once warm). */
export class SparseScratch {
  private readonly mark: Int32Array;
  private readonly pos: Int32Array;
  private stamp = 0;
  private readonly uniq: Scratch;
  private readonly map: Scratch;
  private readonly vals: Scratch;
  private readonly input: Scratch;
  private out: { indices: Int32Array; values: Float32Array } = { indices: new Int32Array(0), values: new Float32Array(0) };
  private count = 0;
  private rowSize = 1;

  constructor(private readonly heap: Heap, rows: number) {
    this.mark = new Int32Array(rows);
    this.pos = new Int32Array(rows);
    this.uniq = new Scratch(heap);
    this.map = new Scratch(heap);
    this.vals = new Scratch(heap);
    this.input = new Scratch(heap);
  }

  /**
   * De-duplicates g (already validated) into wasm memory. `valuesPtr` is where g.values lies in
   * wasm memory (read before any allocation of this step), or -1 when it is on the JS heap.
   * The result is read through `result()`, `valuesPtr` and `valuesLength`.
   */
  dedup(g: SparseGradient, rowSize: number, valuesPtr: number): void {
    const idx = g.indices;
    const n = idx.length;
    this.uniq.reserve(n);
    this.map.reserve(n);
    this.vals.reserve(n * rowSize);
    this.copyIn(g, rowSize, valuesPtr);
    if (++this.stamp === 0x7fffffff) {
      this.mark.fill(0);
      this.stamp = 1;
    }
    const uniq = this.uniq.ints();
    let k = 0;
    for (let i = 0; i < n; i++) {
      const r = idx[i];
      if (this.mark[r] !== this.stamp) {
        this.mark[r] = this.stamp;
        uniq[k++] = r;
      }
    }
    // Native sort of the whole (cached) scratch view, the unused tail padded to sort last: no
    // per-step view, and much faster than a JS sort. Costs O(capacity), the largest batch seen.
    uniq.fill(0x7fffffff, k);
    uniq.sort();
    for (let j = 0; j < k; j++) this.pos[uniq[j]] = j;
    const map = this.map.ints();
    for (let i = 0; i < n; i++) map[i] = this.pos[idx[i]];
    // Sum each input row into its unique row's position.
    const K = this.heap.kernels;
    K.fill(this.vals.ptr, k * rowSize, 0);
    K.scatterAddRows(this.vals.ptr, this.map.ptr, this.input.ptr, n, rowSize, 1);
    this.count = k;
    this.rowSize = rowSize;
  }

  /** Views of the last de-duplicated gradient, re-derived only when memory grew or sizes changed. */
  result(): UniqueSparseGradient {
    const o = this.out;
    const buf = this.heap.memory.buffer;
    const k = this.count;
    if (o.indices.buffer !== buf || o.indices.byteOffset !== this.uniq.ptr || o.indices.length !== k) {
      o.indices = new Int32Array(buf, this.uniq.ptr, k);
    }
    if (o.values.buffer !== buf || o.values.byteOffset !== this.vals.ptr || o.values.length !== k * this.rowSize) {
      o.values = new Float32Array(buf, this.vals.ptr, k * this.rowSize);
    }
    return o;
  }

  /** Pointer to the summed rows of the last de-duplicated gradient. */
  get valuesPtr(): number {
    return this.vals.ptr;
  }

  /** Number of floats in the summed rows of the last de-duplicated gradient. */
  get valuesLength(): number {
    return this.count * this.rowSize;
  }

  /**
   * Copies the raw (validated, possibly duplicated) indices and values into wasm memory, for
   * scatter-adding straight into a dense buffer. Returns the pointer to the row indices;
   * `rawValuesPtr` holds the rows.
   */
  raw(g: SparseGradient, rowSize: number, valuesPtr: number): number {
    this.map.reserve(g.indices.length);
    this.copyIn(g, rowSize, valuesPtr);
    this.map.ints().set(g.indices);
    return this.map.ptr;
  }

  get rawValuesPtr(): number {
    return this.input.ptr;
  }

  private copyIn(g: SparseGradient, rowSize: number, valuesPtr: number): void {
    const n = g.indices.length * rowSize;
    this.input.reserve(n);
    // Kernels only see wasm memory; a wasm-resident source is copied by pointer (its view may
    // have been detached by an allocation since it was validated).
    if (valuesPtr >= 0) this.heap.kernels.copy(this.input.ptr, valuesPtr, n);
    else this.input.floats().set(g.values);
  }

  dispose(): void {
    this.uniq.dispose();
    this.map.dispose();
    this.vals.dispose();
    this.input.dispose();
  }
}
