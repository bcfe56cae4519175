// What the base class does to a step's gradients before the update: the finiteness check,
// placing each gradient in wasm memory (read in place, copied, unscaled or de-duplicated),
// accumulation and clipping. Prepared gradients are kept as pointers: any allocation later in
// the step (another variable's buffer, a subclass's scratch) may grow the memory and detach
// views, so views are derived only where used, from a cache.
import { type Gradient } from './optimizer.js';
import { type SparseGradient, SparseScratch } from './sparse.js';
import { Variable } from './variable.js';

/** The optimizer's bookkeeping for one model variable. */
export interface VarRecord {
  readonly variable: Variable;
  readonly slots: Map<string, Variable>;
  /** Private copy of the gradient when it must be transformed or does not live in wasm memory. */
  grad: Variable | null;
  acc: Variable | null;
  avg: Variable | null;
  sparse: SparseScratch | null;
  decays: boolean;
  // This step's prepared gradient: dense at densePtr, or sparse in `sparse`.
  densePtr: number;
  denseView: Float32Array;
  sparseStep: boolean;
}

const EMPTY = new Float32Array(0);

export function newRecord(variable: Variable, decays: boolean): VarRecord {
  return {
    variable, slots: new Map(), grad: null, acc: null, avg: null, sparse: null, decays,
    densePtr: -1, denseView: EMPTY, sparseStep: false,
  };
}

/** A private buffer shaped like `v` that is not part of the optimizer's state. */
export function gradientBuffer(v: Variable): Variable {
  return Variable.zeros(v.shape, { name: `${v.name}/gradient` }, v.heap);
}

function finiteArray(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (x - x !== 0) return false; // NaN and +-Infinity give NaN
  }
  return true;
}

/**
 * True when every gradient is finite. Changes no state: a JS-heap gradient of a known variable is
 * copied into its private buffer and checked there by the SIMD kernel, and `ptrs[i]` is pointed at
 * the copy so that the step reuses it. `recs[i]` is undefined for a variable not built yet.
 */
export function gradientsFinite(recs: readonly VarRecord[], vars: readonly Variable[], grads: readonly Gradient[], ptrs: number[], n: number): boolean {
  for (let i = 0; i < n; i++) {
    const g = grads[i];
    const v = vars[i];
    const K = v.heap.kernels;
    if (g instanceof Float32Array) {
      if (ptrs[i] < 0 && recs[i] !== undefined) {
        const buf = (recs[i].grad ??= gradientBuffer(v));
        buf.value.set(g);
        ptrs[i] = buf.ptr;
      }
      if (ptrs[i] >= 0 ? K.allFinite(ptrs[i], v.size) === 0 : !finiteArray(g)) return false;
    } else {
      const values = (g as SparseGradient).values;
      if (ptrs[i] >= 0 ? K.allFinite(ptrs[i], values.length) === 0 : !finiteArray(values)) return false;
    }
  }
  return true;
}

/**
 * Puts this step's gradient, divided by the loss scale (times `inv`), at rec.densePtr or in
 * rec.sparse. `ptr` is where a wasm-resident gradient lay when validated (-1 if on the JS heap);
 * with no transform it is read in place.
 */
export function prepareGradient(rec: VarRecord, g: Gradient, ptr: number, inv: number, transform: boolean): void {
  const v = rec.variable;
  const K = v.heap.kernels;
  if (g instanceof Float32Array) {
    rec.sparseStep = false;
    if (ptr >= 0 && !transform) {
      rec.densePtr = ptr; // kernels never write the gradient
      return;
    }
    const buf = (rec.grad ??= gradientBuffer(v));
    if (ptr >= 0) K.scaleCopy(buf.ptr, ptr, v.size, inv);
    else {
      buf.value.set(g);
      if (inv !== 1) K.scaleCopy(buf.ptr, buf.ptr, v.size, inv);
    }
    rec.densePtr = buf.ptr;
  } else {
    rec.sparseStep = true;
    const sparse = (rec.sparse ??= new SparseScratch(v.heap, v.shape[0]));
    sparse.dedup(g as SparseGradient, v.size / v.shape[0], ptr);
    if (inv !== 1) K.scaleCopy(sparse.valuesPtr, sparse.valuesPtr, sparse.valuesLength, inv);
  }
}

/** A view of rec's dense gradient for updateStep: the caller's own array, or a cached view. */
export function gradientView(rec: VarRecord, g: Gradient): Float32Array {
  const mem = rec.variable.heap.memory.buffer;
  const ptr = rec.densePtr;
  if (g instanceof Float32Array && g.buffer === mem && g.byteOffset === ptr) return g;
  let view = rec.denseView;
  if (view.buffer !== mem || view.byteOffset !== ptr || view.length !== rec.variable.size) {
    view = rec.denseView = new Float32Array(mem, ptr, rec.variable.size);
  }
  return view;
}

/**
 * Gradient accumulation: acc += g * inv (inv = 1 / loss scale). On the update call (`mean` =
 * 1/N, else 0) the accumulator becomes the mean gradient and this step's dense gradient.
 */
export function accumulate(rec: VarRecord, g: Gradient, ptr: number, inv: number, mean: number): void {
  const v = rec.variable;
  const K = v.heap.kernels;
  const acc = rec.acc as Variable;
  if (g instanceof Float32Array) {
    let src = ptr;
    if (src < 0) {
      const buf = (rec.grad ??= gradientBuffer(v));
      buf.value.set(g);
      src = buf.ptr;
    }
    K.axpy(acc.ptr, src, v.size, inv);
  } else {
    const s = (rec.sparse ??= new SparseScratch(v.heap, v.shape[0]));
    const rowSize = v.size / v.shape[0];
    const rows = s.raw(g as SparseGradient, rowSize, ptr);
    K.scatterAddRows(acc.ptr, rows, s.rawValuesPtr, (g as SparseGradient).indices.length, rowSize, inv);
  }
  if (mean) {
    K.scaleCopy(acc.ptr, acc.ptr, v.size, mean);
    rec.densePtr = acc.ptr;
    rec.sparseStep = false;
  }
}

/** Keras' clipping of the prepared gradients of recs[0..n): at most one of the three is set. */
export function clipGradients(recs: readonly VarRecord[], n: number, clipnorm: number | null, clipvalue: number | null, globalClipnorm: number | null): void {
  if (clipvalue === null && clipnorm === null && globalClipnorm === null) return;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const rec = recs[i];
    const K = rec.variable.heap.kernels;
    const ptr = rec.sparseStep ? (rec.sparse as SparseScratch).valuesPtr : rec.densePtr;
    const len = rec.sparseStep ? (rec.sparse as SparseScratch).valuesLength : rec.variable.size;
    if (clipvalue !== null) K.clipByValue(ptr, len, clipvalue);
    else if (clipnorm !== null) {
      const norm = Math.sqrt(K.sumSquares(ptr, len));
      if (!(norm <= clipnorm)) K.scaleCopy(ptr, ptr, len, clipnorm / norm);
    } else total += K.sumSquares(ptr, len);
  }
  if (globalClipnorm === null) return;
  const norm = Math.sqrt(total);
  if (norm <= globalClipnorm) return;
  // A NaN/inf norm turns every gradient into NaN, as in Keras.
  const factor = Number.isFinite(norm) ? globalClipnorm / norm : NaN;
  for (let i = 0; i < n; i++) {
    const rec = recs[i];
    const ptr = rec.sparseStep ? (rec.sparse as SparseScratch).valuesPtr : rec.densePtr;
    const len = rec.sparseStep ? (rec.sparse as SparseScratch).valuesLength : rec.variable.size;
    rec.variable.heap.kernels.scaleCopy(ptr, ptr, len, factor);
  }
}
