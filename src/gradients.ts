// What the base class does to a step's gradients, in phases that keep a step atomic:
//   reserve  every buffer the step needs is allocated (and undone by `Journal.rollback` on error);
//   stage    each raw gradient is put in wasm memory: read in place, or copied when it is on the JS
//            heap or aliases memory the step writes (then the result equals passing a copy);
//   check    finiteness, on the staged data;
//   prepare  unscale (loss scale), de-duplicate, accumulate, clip: writes only private buffers and
//            the accumulators.
// Prepared gradients are kept as pointers: an allocation later in the step (a subclass's scratch)
// may grow the memory and detach views, so views are derived only where used, from a cache.
import { SparseInput, SparseScratch } from './sparse.js';
import { Variable } from './variable.js';

/** The optimizer's bookkeeping for one model variable. */
export interface VarRecord {
  readonly variable: Variable;
  readonly slots: Map<string, Variable>;
  /** Its slots, average and accumulator: the memory a step writes besides the variable. */
  readonly state: Variable[];
  /** Private copy of the gradient when it must be transformed or does not live in wasm memory. */
  grad: Variable | null;
  acc: Variable | null;
  avg: Variable | null;
  sparse: SparseScratch | null;
  decays: boolean;
  // This step's gradient: raw at srcPtr (dense), prepared at densePtr or in `sparse`.
  srcPtr: number;
  densePtr: number;
  denseView: Float32Array;
  sparseStep: boolean;
  /** This step's update applies the pipeline in its kernel (EMA included: finishStep skips it). */
  fused: boolean;
}

const EMPTY = new Float32Array(0);

export function newRecord(variable: Variable, decays: boolean): VarRecord {
  return {
    variable, slots: new Map(), state: [], grad: null, acc: null, avg: null, sparse: null, decays,
    srcPtr: -1, densePtr: -1, denseView: EMPTY, sparseStep: false, fused: false,
  };
}

/** A private buffer shaped like `v` that is not part of the optimizer's state. */
export function gradientBuffer(v: Variable): Variable {
  return Variable.zeros(v.shape, { name: `${v.name}/gradient` }, v.heap);
}

/** One validated input of a step: a dense gradient (where it is) or a sparse snapshot. */
export class StepInput {
  sparse = false;
  /** Dense: byte offset in the variable's wasm memory, or -1 when on the JS heap. */
  ptr = -1;
  /** Dense and on the JS heap: the caller's array (copied into wasm memory while staging). */
  dense: Float32Array | null = null;
  readonly rows = new SparseInput();

  release(): void {
    this.dense = null;
    this.rows.release();
  }
}

/** What a step allocated, so that an error can give it all back (arena live bytes unchanged). */
export class Journal {
  private readonly grads: VarRecord[] = [];
  private readonly sparse: SparseScratch[] = [];

  /** The record's private gradient buffer, allocated (and journaled) if it has none. */
  gradOf(rec: VarRecord): Variable {
    if (rec.grad === null) {
      rec.grad = gradientBuffer(rec.variable);
      this.grads.push(rec);
    }
    return rec.grad;
  }

  /** The record's sparse scratch with room for `n` rows (growth journaled). */
  sparseOf(rec: VarRecord, n: number): SparseScratch {
    const v = rec.variable;
    const s = (rec.sparse ??= new SparseScratch(v.heap, v.shape[0]));
    if (s.reserve(n, v.size / v.shape[0])) this.sparse.push(s);
    return s;
  }

  commit(): void {
    for (let i = 0; i < this.sparse.length; i++) this.sparse[i].commit();
    this.grads.length = 0;
    this.sparse.length = 0;
  }

  rollback(): void {
    for (const rec of this.grads) {
      rec.grad?.dispose();
      rec.grad = null;
    }
    for (const s of this.sparse) s.rollback();
    this.grads.length = 0;
    this.sparse.length = 0;
  }
}

const SLOT = 2 ** 21; // ranges per index at most; start * SLOT + i stays below 2^53

/**
 * Where the memory a step may write lies: every registered variable and its state (slots,
 * average, accumulator), as intervals sorted by start with a running maximum of their ends, so
 * that "does this gradient overlap any of them" is a binary search. Rebuilt only when the
 * registrations change or a variable moved (an integration rebinds wrapped variables); the
 * steady-state step allocates nothing and reads each variable's pointer once.
 */
export class AliasIndex {
  private vars: Variable[] = [];
  private ptrs: number[] = [];
  private keys = new Float64Array(0);
  private starts = new Float64Array(0);
  private maxEnd = new Float64Array(0);
  private count = 0;
  private generation = -1;

  /** Brings the index up to date with `records` (whose registrations are at `generation`). */
  refresh(generation: number, records: readonly VarRecord[]): void {
    if (generation === this.generation && this.unmoved()) return;
    const vars = this.vars;
    vars.length = 0;
    for (const r of records) {
      vars.push(r.variable);
      for (const s of r.state) vars.push(s);
    }
    const m = vars.length;
    if (m >= SLOT) throw new RangeError(`wasm-optim: more than ${SLOT} state variables in one optimizer`);
    if (this.keys.length < m) {
      this.keys = new Float64Array(m * 2);
      this.starts = new Float64Array(m * 2);
      this.maxEnd = new Float64Array(m * 2);
    }
    this.ptrs.length = m;
    for (let i = 0; i < m; i++) {
      this.ptrs[i] = vars[i].ptr;
      this.keys[i] = this.ptrs[i] * SLOT + i;
    }
    this.keys.fill(Infinity, m);
    this.keys.sort(); // native, in place: no allocation
    let max = -1;
    for (let k = 0; k < m; k++) {
      const i = this.keys[k] % SLOT;
      const start = this.ptrs[i];
      max = Math.max(max, start + vars[i].size * 4);
      this.starts[k] = start;
      this.maxEnd[k] = max;
    }
    this.count = m;
    this.generation = generation;
  }

  private unmoved(): boolean {
    for (let i = 0; i < this.count; i++) if (this.vars[i].ptr !== this.ptrs[i]) return false;
    return true;
  }

  /** True when `size` floats at `ptr` overlap an indexed variable. */
  overlaps(ptr: number, size: number): boolean {
    const end = ptr + size * 4;
    let lo = 0;
    let hi = this.count; // the first index whose start is >= end
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] < end) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && this.maxEnd[lo - 1] > ptr;
  }
}

/**
 * True when `size` floats at `ptr` overlap memory this step may write: a registered variable or
 * its state (`index`), or a variable of this step not registered yet. Reading such a gradient in
 * place would see the writes (weight decay runs first; earlier variables are updated first).
 */
export function aliasesStep(ptr: number, size: number, index: AliasIndex, recs: readonly (VarRecord | undefined)[], vars: readonly Variable[], n: number): boolean {
  if (index.overlaps(ptr, size)) return true;
  const end = ptr + size * 4;
  for (let j = 0; j < n; j++) {
    if (recs[j] !== undefined) continue; // indexed
    const p = vars[j].ptr;
    if (ptr < p + vars[j].size * 4 && p < end) return true;
  }
  return false;
}

function finiteArray(a: Float32Array, n: number): boolean {
  for (let i = 0; i < n; i++) {
    const x = a[i];
    if (x - x !== 0) return false; // NaN and +-Infinity give NaN
  }
  return true;
}

/** Finiteness of a validated gradient that is not staged (its variable is not built yet). */
export function inputFinite(g: StepInput, v: Variable): boolean {
  const K = v.heap.kernels;
  if (g.sparse) {
    const n = g.rows.count * (v.size / v.shape[0]);
    return g.rows.valuesPtr >= 0 ? K.allFinite(g.rows.valuesPtr, n) === 1 : finiteArray(g.rows.values as Float32Array, n);
  }
  return g.ptr >= 0 ? K.allFinite(g.ptr, v.size) === 1 : finiteArray(g.dense as Float32Array, v.size);
}

/** Puts the raw gradient in wasm memory: rec.srcPtr (dense) or the sparse scratch. */
export function stage(rec: VarRecord, g: StepInput, copy: boolean): void {
  const v = rec.variable;
  rec.sparseStep = g.sparse;
  if (g.sparse) {
    (rec.sparse as SparseScratch).stage(g.rows, v.size / v.shape[0]);
    return;
  }
  if (!copy) {
    rec.srcPtr = g.ptr; // kernels never write the gradient
    return;
  }
  const buf = rec.grad as Variable;
  if (g.ptr >= 0) v.heap.kernels.copy(buf.ptr, g.ptr, v.size);
  else buf.value.set(g.dense as Float32Array); // reads the engine's data, not the object's properties
  rec.srcPtr = buf.ptr;
}

/** True when the staged raw gradient holds no NaN or infinity. */
export function stagedFinite(rec: VarRecord): boolean {
  const K = rec.variable.heap.kernels;
  if (rec.sparseStep) {
    const s = rec.sparse as SparseScratch;
    return K.allFinite(s.rawPtr, s.rawLength) === 1;
  }
  return K.allFinite(rec.srcPtr, rec.variable.size) === 1;
}

/**
 * The gradient the update sees, unscaled (divided by `div`, a LossScaleOptimizer's scale, which is
 * only ever set for dense gradients, or times `inv` = 1 / lossScaleFactor): at rec.densePtr, or
 * de-duplicated in rec.sparse. With `transform` (unscaling or clipping will write it) a dense
 * gradient read in place is first copied to the private buffer.
 */
export function prepareGradient(rec: VarRecord, inv: number, div: number, transform: boolean): void {
  const v = rec.variable;
  const K = v.heap.kernels;
  if (rec.sparseStep) {
    const s = rec.sparse as SparseScratch;
    s.dedup();
    if (inv !== 1) K.scaleCopy(s.valuesPtr, s.valuesPtr, s.valuesLength, inv);
    return;
  }
  if (!transform) {
    rec.densePtr = rec.srcPtr;
    return;
  }
  const buf = rec.grad as Variable;
  if (div !== 1) K.divCopy(buf.ptr, rec.srcPtr, v.size, div);
  else if (inv !== 1 || rec.srcPtr !== buf.ptr) K.scaleCopy(buf.ptr, rec.srcPtr, v.size, inv);
  rec.densePtr = buf.ptr;
}

/** A view of rec's dense gradient for updateStep (cached; re-derived after growth). */
export function gradientView(rec: VarRecord): Float32Array {
  const mem = rec.variable.heap.memory.buffer;
  const ptr = rec.densePtr;
  let view = rec.denseView;
  if (view.buffer !== mem || view.byteOffset !== ptr || view.length !== rec.variable.size) {
    view = rec.denseView = new Float32Array(mem, ptr, rec.variable.size);
  }
  return view;
}

/**
 * Gradient accumulation: acc += g * inv (inv = 1 / loss scale); a sparse gradient is
 * de-duplicated first, so the sum is exactly the densified gradient's. On the update call
 * (`mean` = 1/N, else 0) the accumulator becomes the mean gradient and this step's gradient.
 */
export function accumulate(rec: VarRecord, inv: number, mean: number): void {
  const v = rec.variable;
  const K = v.heap.kernels;
  const acc = rec.acc as Variable;
  if (rec.sparseStep) {
    const s = rec.sparse as SparseScratch;
    s.dedup();
    K.scatterAddRows(acc.ptr, s.indicesPtr, s.valuesPtr, s.rowCount, v.size / v.shape[0], inv);
  } else K.axpy(acc.ptr, rec.srcPtr, v.size, inv);
  if (mean) {
    K.scaleCopy(acc.ptr, acc.ptr, v.size, mean);
    rec.densePtr = acc.ptr;
    rec.sparseStep = false;
  }
}

/**
 * Keras' clipping of the prepared gradients of recs[0..n): at most one of the three is set. A
 * fused record (its kernel applies the factor as it streams, assembly/pipeline.ts) is only
 * measured: its clipnorm factor goes to factors[i], the global one is returned; the others are
 * written here. Returns the global factor (1 when not clipping globally).
 */
export function clipGradients(recs: readonly VarRecord[], n: number, clipnorm: number | null, clipvalue: number | null, globalClipnorm: number | null, factors: number[]): number {
  for (let i = 0; i < n; i++) factors[i] = 1;
  if (clipvalue === null && clipnorm === null && globalClipnorm === null) return 1;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const rec = recs[i];
    const K = rec.variable.heap.kernels;
    const ptr = rec.sparseStep ? (rec.sparse as SparseScratch).valuesPtr : rec.densePtr;
    const len = rec.sparseStep ? (rec.sparse as SparseScratch).valuesLength : rec.variable.size;
    if (clipvalue !== null) {
      if (!rec.fused) K.clipByValue(ptr, len, clipvalue);
    } else if (clipnorm !== null) {
      const norm = Math.sqrt(K.sumSquares(ptr, len));
      if (!(norm <= clipnorm)) {
        if (rec.fused) factors[i] = clipnorm / norm;
        else K.scaleCopy(ptr, ptr, len, clipnorm / norm);
      }
    } else total += K.sumSquares(ptr, len);
  }
  if (globalClipnorm === null) return 1;
  const norm = Math.sqrt(total);
  if (norm <= globalClipnorm) return 1;
  // A NaN/inf norm turns every gradient into NaN, as in Keras.
  const factor = Number.isFinite(norm) ? globalClipnorm / norm : NaN;
  for (let i = 0; i < n; i++) {
    const rec = recs[i];
    if (rec.fused) continue;
    const ptr = rec.sparseStep ? (rec.sparse as SparseScratch).valuesPtr : rec.densePtr;
    const len = rec.sparseStep ? (rec.sparse as SparseScratch).valuesLength : rec.variable.size;
    rec.variable.heap.kernels.scaleCopy(ptr, ptr, len, factor);
  }
  return factor;
}
