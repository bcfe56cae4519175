// Backend binding: how a TfjsOptimizer reaches the tfjs variables. On the wasm backend the core's
// kernels update them in place inside the backend's heap (zero-copy); on cpu and any other backend
// the values are copied into mirror variables in the library's arena and back. A step's data is
// pinned while the step may write it, and published at its end.
import * as tf from '@tensorflow/tfjs-core';
import { defaultHeap, type Gradient, Variable } from '../index.js';
import { withHeap } from '../kernels.js';
import { type TfjsWasmHeap, cpuValues, isCpuBackend, warnOnce, wasmHeapFor } from './backend.js';
import { type TfjsBindingMode } from './types.js';

let zeroCopyEnabled = true;

/**
 * Allows (default) or forbids the zero-copy path on the wasm backend. Optimizers decide at their
 * first step (or setWeights); a change does not affect optimizers already bound to a backend.
 */
export function setZeroCopyEnabled(enabled: boolean): void {
  if (typeof enabled !== 'boolean') throw new TypeError(`setZeroCopyEnabled: enabled must be a boolean, got ${String(enabled)}`);
  zeroCopyEnabled = enabled;
}

/** One tfjs variable (by name) and the core Variable standing for it. */
export interface Entry {
  readonly name: string;
  /** Wraps the tfjs data (zero-copy) or mirrors it in the arena (copy modes). */
  readonly core: Variable;
  readonly shape: readonly number[];
  readonly size: number;
  /** The tfjs variable it stands for (by identity: a new variable under the name gets a new entry). */
  readonly tf: tf.Variable;
  /** The tfjs data bound at the last sync (a step writes back only if the variable still has it). */
  dataId: object | null;
  /** Zero-copy: the C++ tensor id at the last sync. */
  tfId: number;
  /** Zero-copy: cached view of the last gradient (re-made when the gradient moves). */
  grad: Float32Array | null;
  /** Step counter value of the last sync. */
  synced: number;
  /** Has been in a step: whatever the optimizer allocates lazily for it exists. */
  stepped: boolean;
}

/**
 * The mode for backend `b` (named `name`), decided once per optimizer: zero-copy on the wasm
 * backend when allowed and possible, through the live arrays on cpu, copies otherwise.
 */
function chooseBinding(b: tf.KernelBackend, name: string): { mode: TfjsBindingMode; heap: TfjsWasmHeap | null } {
  defaultHeap(); // throws the clear "call ready() first" error before anything is decided
  if (name === 'wasm' && zeroCopyEnabled) {
    const heap = wasmHeapFor(b);
    if (typeof heap === 'string') warnOnce(`wasm-optim/tfjs: zero-copy is unavailable on the wasm backend (${heap}); using the copy path`);
    else return { mode: 'zero-copy', heap };
  }
  return { mode: name === 'cpu' && isCpuBackend(b) ? 'cpu' : 'copy', heap: null };
}

/** The core Variable standing for `v`: a view of its data in the wasm heap, or a copy in the arena. */
function newEntry(v: tf.Variable, heap: TfjsWasmHeap | null): Entry {
  const shape = [...v.shape]; // [] for a scalar, as in tfjs
  let core: Variable;
  if (heap) core = Variable.wrap(heap, heap.data(v.dataId).memoryOffset, shape, { name: v.name });
  else core = new Variable(tf.engine().readSync(v.dataId) as Float32Array, { name: v.name, shape }, defaultHeap()); // pinned: readable even if a hook disposed it
  return { name: v.name, core, shape: [...v.shape], size: v.size, tf: v, dataId: null, tfId: 0, grad: null, synced: 0, stepped: false };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (let i = 0; i < shape.length; i++) size *= shape[i];
  return size;
}

/** Whether tfjs' engine records `t`'s data as float32 of exactly `size` values (reshapes share data of the same size). */
export function holds(t: tf.Tensor, size: number): boolean {
  const info = tf.engine().state.tensorInfo.get(t.dataId);
  return info !== undefined && info.dtype === 'float32' && sizeOf(info.shape) === size;
}

/** Gives `v` data of its own (a tensor sharing the old data keeps it unchanged). */
export function unshare(v: tf.Variable): void {
  const own = tf.tensor(v.dataSync().slice(), v.shape, 'float32');
  v.assign(own);
  own.dispose();
}

/** `v.assign` of a copy of `values` (tf.tensor may keep the array it is given, so it gets its own). */
export function assignCopy(v: tf.Variable, values: Float32Array): void {
  const t = tf.tensor(values.slice(), v.shape, 'float32');
  v.assign(t);
  t.dispose();
}

/** A (gradient, core variable) pair, as the core's applyGradients takes it. */
export type Pair = [Gradient, Variable];

/**
 * One optimizer's binding to a backend: the mode (decided at the first step, then fixed), the core
 * Variable of each known tfjs variable, and one step's syncs and pins. Reused across steps, so a
 * steady-state step allocates nothing.
 */
export class Binding {
  mode: TfjsBindingMode | null = null;
  backend: tf.KernelBackend | null = null;
  backendName = '';
  heap: TfjsWasmHeap | null = null;
  readonly entries = new Map<string, Entry>();
  readonly entryList: Entry[] = [];
  /** The entries synced in this step (or withAllVariables call), written back at its end. */
  private readonly synced: Entry[] = [];
  private syncedCount = 0;
  private stepId = 0;
  /** Zero-copy: tfjs data held (refCount + 1) while a step may write it, so no user code can free it. */
  private readonly pins: (object | null)[] = [];
  private pinCount = 0;

  /** Starts a step's syncs; returns its id. */
  beginSync(): number {
    this.syncedCount = 0;
    return ++this.stepId;
  }

  /** Disposes every core variable (the optimizer is disposed). */
  disposeEntries(): void {
    for (const e of this.entryList) e.core.dispose();
    this.entries.clear();
    this.entryList.length = 0;
  }

  /**
   * Pins the data of the step's variables and gradients before any hook can run (a variable whose
   * data other tensors share gets a private copy first, zero-copy only: the kernels write it in place).
   */
  hold(n: number, vars: readonly tf.Variable[], grads: readonly tf.Tensor[], data: object[]): void {
    const heap = this.heap;
    for (let i = 0; i < n; i++) {
      const v = vars[i];
      if (heap && heap.data(v.dataId).refCount > 1) unshare(v); // other tensors see this data: write into a private copy instead
      data[i] = v.dataId;
      this.pin(v.dataId);
      this.pin(grads[i].dataId);
    }
  }

  /** Holds `dataId`'s memory until the step ends (tfjs frees data only when its refCount drops to 0). */
  pin(dataId: object): void {
    (this.backend as tf.KernelBackend).incRef(dataId);
    this.pins[this.pinCount++] = dataId;
  }

  /** Drops the pins; data whose tensor was disposed meanwhile is freed now (as tfjs would have). */
  unpinAll(): void {
    const b = this.backend as tf.KernelBackend;
    for (let i = 0; i < this.pinCount; i++) {
      const dataId = this.pins[i] as object;
      this.pins[i] = null;
      if (b.disposeData(dataId)) tf.engine().removeDataId(dataId, b);
    }
    this.pinCount = 0;
  }

  /**
   * Forgets variables disposed since the last step: their core variables are disposed (the core
   * optimizer then frees their slots and records at its next step), so a loop that creates and
   * disposes variables does not grow memory, and a new variable under an old name starts fresh.
   */
  releaseDisposed(): void {
    const list = this.entryList;
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (e.tf.isDisposed) {
        if (this.entries.get(e.name) === e) this.entries.delete(e.name);
        e.core.dispose();
      } else list[kept++] = e;
    }
    if (kept !== list.length) list.length = kept;
  }

  /** Chooses the mode on first use; afterwards insists on the same backend (the state lives there). */
  bind(owner: { getClassName(): string }): void {
    const b = tf.backend();
    if (b === this.backend) return;
    const name = tf.getBackend();
    if (this.backend !== null) {
      throw new Error(
        `${owner.getClassName()}: this optimizer's state lives with the '${this.backendName}' backend and tfjs now runs on '${name}'; ` +
          'move it with getWeights() / setWeights() into a new optimizer',
      );
    }
    const { mode, heap } = chooseBinding(b, name);
    this.heap = heap;
    this.backend = b;
    this.backendName = name;
    this.mode = mode;
  }

  createEntry(v: tf.Variable): Entry {
    const e = newEntry(v, this.heap);
    this.entries.set(v.name, e);
    this.entryList.push(e);
    return e;
  }

  /**
   * Points the core variable at the tfjs data (zero-copy) or copies the values in (copy modes).
   * `held` is the data hold() pinned for a step variable (used even if a hook disposed or assigned
   * the variable since); other variables are pinned here.
   */
  sync(e: Entry, id: number, held: object | null): void {
    e.synced = id;
    const v = e.tf;
    this.synced[this.syncedCount++] = e;
    const heap = this.heap;
    if (held === null) {
      if (heap && heap.data(v.dataId).refCount > 1) unshare(v); // other tensors see this data: write into a private copy instead
      this.pin(v.dataId);
    }
    const dataId = held ?? v.dataId;
    e.dataId = dataId;
    if (heap) {
      const d = heap.data(dataId);
      e.tfId = d.id;
      if (e.core.ptr !== d.memoryOffset) e.core.rebind(d.memoryOffset);
    } else {
      const live = this.mode === 'cpu' ? cpuValues(this.backend as tf.KernelBackend, dataId, e.size) : null;
      e.core.value.set(live ?? (tf.engine().readSync(dataId) as Float32Array)); // pinned: readable even if disposed since
    }
  }

  /** Every other known variable (all live: releaseDisposed ran), for EMA and wrappers. */
  syncRest(id: number): void {
    for (let i = 0; i < this.entryList.length; i++) {
      const e = this.entryList[i];
      if (e.synced !== id) this.sync(e, id, null);
    }
  }

  /** Fills `pairs` with this step's gradients: views of the wasm heap where they lie, or arrays. */
  loadGradients(n: number, entries: readonly Entry[], grads: readonly tf.Tensor[], pairs: Pair[]): void {
    const heap = this.heap;
    if (heap) {
      this.reserve(heap, n, entries);
      const buffer = heap.memory.buffer;
      for (let i = 0; i < n; i++) {
        const e = entries[i];
        const off = heap.data(grads[i].dataId).memoryOffset; // pinned by hold()
        let view = e.grad;
        if (view === null || view.buffer !== buffer || view.byteOffset !== off) view = e.grad = new Float32Array(buffer, off, e.size);
        setPair(pairs, i, view, e.core);
      }
    } else {
      const cpu = this.mode === 'cpu' ? (this.backend as tf.KernelBackend) : null;
      for (let i = 0; i < n; i++) {
        const g = grads[i];
        const e = entries[i];
        const live = cpu ? cpuValues(cpu, g.dataId, e.size) : null;
        setPair(pairs, i, live ?? (tf.engine().readSync(g.dataId) as Float32Array), e.core); // pinned by hold()
      }
    }
    pairs.length = n;
  }

  /**
   * A variable's first step may allocate (the core's scratch for clipped or scaled gradients, a
   * LossScaleOptimizer's unscaled copy). If that grew the memory, the gradient views made here
   * would be detached under an optimizer that kept them, so the room is made beforehand.
   */
  reserve(heap: TfjsWasmHeap, n: number, entries: readonly Entry[]): void {
    let bytes = 0;
    for (let i = 0; i < n; i++) if (!entries[i].stepped) bytes += entries[i].size * 4 + 64;
    if (bytes > 0) heap.free(heap.alloc(2 * bytes + 65536));
  }


  /** Runs the core; on the wasm heap, `kernels.*` (used by custom optimizers) are bound to it. */
  run(fn: () => unknown): void {
    if (this.heap) withHeap(this.heap, fn);
    else fn();
  }

  /**
   * Publishes the new values: refresh XNNPACK's packing (zero-copy) or copy out (copy modes). A
   * variable that code run by the step (a custom optimizer's hook) disposed or assigned keeps what
   * that code did: its update of this step is dropped.
   */
  writeBack(): void {
    const heap = this.heap;
    for (let i = 0; i < this.syncedCount; i++) {
      const e = this.synced[i];
      const v = e.tf;
      if (v.isDisposed || v.dataId !== e.dataId) continue;
      if (heap) heap.refresh(e.tfId, e.size, e.core.ptr);
      else {
        const b = this.backend as tf.KernelBackend;
        // In place only if no other tensor shares the data: the variable and this step's one pin.
        const live = this.mode === 'cpu' && b.refCount(v.dataId) === 2 ? cpuValues(b, v.dataId, e.size) : null;
        if (live) live.set(e.core.value);
        else assignCopy(v, e.core.value);
      }
    }
  }
}

function setPair(pairs: Pair[], i: number, g: Float32Array, v: Variable): void {
  const p = pairs[i];
  if (p === undefined) pairs[i] = [g, v];
  else {
    p[0] = g;
    p[1] = v;
  }
}
