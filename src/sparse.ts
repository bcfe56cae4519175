// Sparse gradients: validation of row indices, and de-duplication into unique, sorted rows with
// duplicate rows summed (as TF's _resource_apply_sparse_duplicate_indices does). Wasm memory is
// unchecked, so the indices are read ONCE, into a library-owned snapshot, and only the snapshot
// is checked and used: user code that runs later in the step (a schedule, a build() hook) cannot
// change what reaches a kernel.
import { type Heap } from './arena.js';
import { isFloat32Array, isInt32Array, typedBuffer, typedByteOffset, typedLength } from './typed.js';
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

/** One validated sparse gradient: a private copy of the indices and where the values are. */
export class SparseInput {
  /** The row indices, copied (grow-only storage: no allocation once warm). */
  indices = new Int32Array(16);
  count = 0;
  /** Byte offset of the values in the variable's wasm memory, or -1 when they are on the JS heap. */
  valuesPtr = -1;
  /** The values when they are on the JS heap (copied into wasm memory by `SparseScratch.stage`). */
  values: Float32Array | null = null;

  /**
   * Reads `g.indices` and `g.values` once each, copies the indices and checks the copy: throws,
   * naming the variable, unless `g` is a valid sparse gradient for `v`.
   */
  read(g: SparseGradient, v: Variable, where: string): void {
    const indices: unknown = g.indices;
    const values: unknown = g.values;
    if (v.shape.length === 0) {
      throw new TypeError(`${where}: '${v.name}' is a scalar variable (shape []): sparse gradients need rows; pass a dense Float32Array of 1 value`);
    }
    const typed = isInt32Array(indices);
    if (!typed && !Array.isArray(indices)) {
      throw new TypeError(`${where}: sparse indices for '${v.name}' must be an Int32Array or an array of integers`);
    }
    if (!isFloat32Array(values)) throw new TypeError(`${where}: sparse values for '${v.name}' must be a Float32Array`);
    const n = typed ? typedLength(indices) : (indices as readonly unknown[]).length;
    if (n > this.indices.length) this.indices = new Int32Array(Math.max(n, this.indices.length * 2));
    const snap = this.indices;
    const rows = v.shape[0];
    if (typed) snap.set(indices); // reads the engine's own data, whatever the object's properties say
    for (let i = 0; i < n; i++) {
      const r: unknown = typed ? snap[i] : (indices as readonly unknown[])[i];
      if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r >= rows) {
        throw new RangeError(`${where}: sparse index ${String(r)} at position ${i} for '${v.name}' must be an integer in [0, ${rows})`);
      }
      snap[i] = r;
    }
    const rowSize = v.size / rows;
    const len = typedLength(values);
    if (len !== n * rowSize) {
      throw new RangeError(
        `${where}: sparse values for '${v.name}' must hold indices.length * ${rowSize} = ${n * rowSize} numbers (whole rows of shape ${JSON.stringify(v.shape.slice(1))}), got ${len}`,
      );
    }
    this.count = n;
    const inWasm = typedBuffer(values) === v.heap.memory.buffer;
    this.valuesPtr = inWasm ? typedByteOffset(values) : -1;
    this.values = inWasm ? null : values;
  }

  /** Drops the reference to the caller's values (do not keep them alive past the step). */
  release(): void {
    this.values = null;
  }
}

/**
 * A growable scratch region of wasm memory with cached typed views (re-derived on growth). Growth
 * is transactional: the old region is kept until `commit()`, and `rollback()` puts it back, so a
 * step that fails after reserving leaves the arena exactly as it was.
 */
class Scratch {
  ptr = 0;
  cap = 0;
  private oldPtr = 0;
  private oldCap = 0;
  private pending = false;
  private f32 = new Float32Array(0);
  private i32 = new Int32Array(0);

  constructor(private readonly heap: Heap) {}

  /** Makes room for `n` 4-byte elements (contents are not kept). True when it allocated. */
  reserve(n: number): boolean {
    if (n <= this.cap) return false;
    const cap = Math.max(n, this.cap * 2, 16);
    const ptr = this.heap.alloc(cap * 4);
    if (this.pending) this.commit(); // a second growth before commit: the first region is garbage
    this.pending = true;
    this.oldPtr = this.ptr;
    this.oldCap = this.cap;
    this.ptr = ptr;
    this.cap = cap;
    return true;
  }

  commit(): void {
    if (!this.pending) return;
    if (this.oldPtr) this.heap.free(this.oldPtr);
    this.oldPtr = this.oldCap = 0;
    this.pending = false;
  }

  rollback(): void {
    if (!this.pending) return;
    this.pending = false;
    if (this.ptr) this.heap.free(this.ptr);
    this.ptr = this.oldPtr;
    this.cap = this.oldCap;
    this.oldPtr = this.oldCap = 0;
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
    this.commit();
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
  private readonly parts: readonly Scratch[];
  private out: { indices: Int32Array; values: Float32Array } = { indices: new Int32Array(0), values: new Float32Array(0) };
  private count = 0;
  private rowSize = 1;
  private staged: SparseInput | null = null;

  constructor(private readonly heap: Heap, rows: number) {
    this.mark = new Int32Array(rows);
    this.pos = new Int32Array(rows);
    this.uniq = new Scratch(heap);
    this.map = new Scratch(heap);
    this.vals = new Scratch(heap);
    this.input = new Scratch(heap);
    this.parts = [this.uniq, this.map, this.vals, this.input];
  }

  /** Makes room for `n` rows of `rowSize`. True when it allocated (commit or roll back later). */
  reserve(n: number, rowSize: number): boolean {
    if (n <= this.uniq.cap && n * rowSize <= this.vals.cap) return false; // the steady state
    try {
      let grew = this.uniq.reserve(n);
      grew = this.map.reserve(n) || grew;
      grew = this.vals.reserve(n * rowSize) || grew;
      return this.input.reserve(n * rowSize) || grew;
    } catch (e) {
      this.rollback();
      throw e;
    }
  }

  commit(): void {
    for (const s of this.parts) s.commit();
  }

  rollback(): void {
    for (const s of this.parts) s.rollback();
  }

  /** Copies the (validated) raw rows into wasm memory. Needs `reserve` first. */
  stage(g: SparseInput, rowSize: number): void {
    const n = g.count * rowSize;
    // Kernels only see wasm memory; a wasm-resident source is copied by pointer (its view may
    // have been detached by an allocation since it was validated).
    if (g.valuesPtr >= 0) this.heap.kernels.copy(this.input.ptr, g.valuesPtr, n);
    else this.input.floats().set(g.values as Float32Array);
    this.staged = g;
    this.rowSize = rowSize;
  }

  /** The staged raw rows (for the finiteness check). */
  get rawPtr(): number {
    return this.input.ptr;
  }

  get rawLength(): number {
    return (this.staged as SparseInput).count * this.rowSize;
  }

  /** De-duplicates the staged gradient: unique ascending rows, duplicates summed in input order. */
  dedup(): void {
    const g = this.staged as SparseInput;
    const idx = g.indices;
    const n = g.count;
    const rowSize = this.rowSize;
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

  /** Pointer to the unique row indices of the last de-duplicated gradient. */
  get indicesPtr(): number {
    return this.uniq.ptr;
  }

  /** Number of unique rows of the last de-duplicated gradient. */
  get rowCount(): number {
    return this.count;
  }

  /** Pointer to the summed rows of the last de-duplicated gradient. */
  get valuesPtr(): number {
    return this.vals.ptr;
  }

  /** Number of floats in the summed rows of the last de-duplicated gradient. */
  get valuesLength(): number {
    return this.count * this.rowSize;
  }

  dispose(): void {
    for (const s of this.parts) s.dispose();
    this.staged = null;
  }
}
