// A core optimizer as a tf.Optimizer. On the wasm backend the core's kernels update the tfjs
// variables in place inside the backend's heap (zero-copy); on cpu and any other backend the values
// are copied into mirror variables in the library's arena and back. Slots are keyed by variable
// name (never by position), and state round-trips through getWeights/setWeights and model.save.
import * as tf from '@tensorflow/tfjs-core';
import { type Config, type Gradient, INNER_STATE_PREFIX, type LearningRate, MultiOptimizer, Optimizer as CoreOptimizer, OptimizerWrapper, Variable, defaultHeap } from '../index.js';
import { withHeap } from '../kernels.js';
import { restoreByName } from '../base/internal.js';
import { type PlateauState, readPlateau, type StateEntries } from '../state-input.js';
import { type TfjsWasmHeap, cpuValues, isCpuBackend, warnOnce, wasmHeapFor } from './backend.js';
import { canonicalName, decodeConfig, encodeConfig, tfjsClassName } from './config.js';

/** `{ name, tensor }`, as tf.Optimizer's getWeights/setWeights use. */
export type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/** How an optimizer reaches the weights: in place in the wasm heap, or by copies (cpu: through its live arrays). */
export type TfjsBindingMode = 'zero-copy' | 'cpu' | 'copy';

/** A core optimizer class usable with `toTfjs` (a subclass of the core `Optimizer` with its own `className`). */
export interface CoreOptimizerClass<C extends CoreOptimizer = CoreOptimizer, A extends unknown[] = never[]> {
  new (...args: A): C;
  readonly className: string;
  /** The core's static fromConfig (typed loosely: it is generic over `this` in the core). */
  fromConfig(config: Config): CoreOptimizer;
}

/** What `toTfjs` returns: a tf.Optimizer class registered with tf.serialization. */
export interface TfjsOptimizerClass<C extends CoreOptimizer = CoreOptimizer, A extends unknown[] = never[]> {
  /** Wraps a fresh core optimizer of exactly this class. */
  new (optimizer: C): TfjsOptimizer<C>;
  /** Builds the core optimizer from the core constructor's arguments (options; a wrapper's inner optimizer and options). */
  new (...args: A): TfjsOptimizer<C>;
  /** The name in saved models: 'wasm-optim.' + the core class name. */
  readonly className: string;
  readonly coreClass: CoreOptimizerClass<C, A>;
}

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
interface Entry {
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

type Pair = [Gradient, Variable];

const wrappedCores = new WeakSet<CoreOptimizer>();
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (let i = 0; i < shape.length; i++) size *= shape[i];
  return size;
}

/** Whether tfjs' engine records `t`'s data as float32 of exactly `size` values (reshapes share data of the same size). */
function holds(t: tf.Tensor, size: number): boolean {
  const info = tf.engine().state.tensorInfo.get(t.dataId);
  return info !== undefined && info.dtype === 'float32' && sizeOf(info.shape) === size;
}

/**
 * A tf.Optimizer that runs a wasm-optim core optimizer. Build one with a factory (`adam(...)`),
 * `toTfjs(CoreClass)` or `fromCore(instance)`; the core optimizer is `optimizer.core`.
 */
export class TfjsOptimizer<C extends CoreOptimizer = CoreOptimizer> extends tf.Optimizer {
  static get className(): string {
    return 'TfjsOptimizer';
  }

  // tf.Optimizer's instanceof is duck-typed (any object with minimize/applyGradients passes);
  // restore the ordinary prototype check for this class and its subclasses.
  static override [Symbol.hasInstance](x: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, x);
  }

  /** The wasm-optim optimizer doing the work (its options, slots, `excludeFromWeightDecay`, ...). */
  readonly core: C;
  private bindingMode: TfjsBindingMode | null = null;
  private boundBackend: tf.KernelBackend | null = null;
  private boundName = '';
  private heap: TfjsWasmHeap | null = null;
  /** EMA and wrappers (Lookahead's sync) read and write every known variable, not only the step's. */
  private readonly touchesAll: boolean;
  /** Under gradient accumulation the core's `iterations` counts real updates, not calls. */
  private readonly accumulates: boolean;
  private readonly entries = new Map<string, Entry>();
  private readonly entryList: Entry[] = [];
  // Per-step scratch, reused so a steady-state step allocates nothing.
  private readonly stepVars: tf.Variable[] = [];
  private readonly stepGrads: tf.Tensor[] = [];
  private readonly stepEntries: Entry[] = [];
  /** The data of each step variable, held (pinned) from before any hook runs to the end of the step. */
  private readonly stepData: object[] = [];
  private readonly synced: Entry[] = [];
  private syncedCount = 0;
  private stepId = 0;
  private readonly pairs: Pair[] = [];
  /** The core optimizer and the ones it drives; their schedules are evaluated before memory is bound. */
  private readonly chain: CoreOptimizer[];
  private readonly schedules: (LearningRate | null)[] = [];
  /** Zero-copy: tfjs data held (refCount + 1) while a step may write it, so no user code can free it. */
  private readonly pins: (object | null)[] = [];
  private pinCount = 0;
  private readonly runCore = (): number => this.core.applyGradients(this.pairs);
  private readonly runFinalize = (): void => this.core.finalizeVariableValues();
  /** Saved slots not yet matched to a variable (setWeights before the variables are seen). */
  private pending: Map<string, { shape: number[]; values: Float32Array }> | null = null;
  /** True until the first step after setWeights has checked that the saved slots match something. */
  private pendingUnchecked = false;
  private exported: tf.Tensor[] = [];
  private isDisposed = false;
  /** The step running now: user code it calls (getters, schedules, hooks) must not re-enter. */
  private busy: string | null = null;
  /** Work to run once right after the next applyGradients succeeds (see runAfterNextStep), or null. */
  private afterStep: (() => void) | null = null;

  protected constructor(core: C) {
    super();
    if (!(core instanceof CoreOptimizer)) throw new TypeError('wasm-optim/tfjs: expected a wasm-optim Optimizer instance');
    if (core.disposed) throw new Error(`wasm-optim/tfjs: the ${core.getClassName()} optimizer was disposed`);
    if (wrappedCores.has(core)) throw new Error(`wasm-optim/tfjs: this ${core.getClassName()} optimizer is already wrapped; wrap each core optimizer once`);
    // A used optimizer is tied to other variables (and heap); its counter would not match them either.
    if (core.variables.length > 0 || core.getState().iterations > 0) {
      throw new Error(`wasm-optim/tfjs: this ${core.getClassName()} optimizer has already been used; wrap a fresh one`);
    }
    wrappedCores.add(core);
    this.core = core;
    this.chain = chain(core);
    this.touchesAll = touchesAllVariables(core);
    this.accumulates = this.chain.some((o) => o.gradientAccumulationSteps !== null);
  }

  /**
   * Counted `applyGradients` calls, as tfjs counts them and saves them ('iter'): the core's raw
   * counter, so steps the core skips (skipNonFinite, a LossScaleOptimizer's overflow) are not counted.
   */
  override get iterations(): number {
    return this.accumulates ? this.core.getState().iterations : this.core.iterations;
  }

  override async saveIterations(): Promise<NamedTensor> {
    return { name: 'iter', tensor: tf.scalar(this.iterations, 'int32') };
  }

  /** How the weights are reached, decided at the first step; null before. */
  get mode(): TfjsBindingMode | null {
    return this.bindingMode;
  }

  /**
   * One step. Takes the named map `minimize()` passes or the `{ name, tensor }[]` list `model.fit`
   * passes; null gradients are skipped. Everything is validated before anything is written.
   */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.checkAlive('applyGradients');
    this.checkIdle('applyGradients');
    const after = this.afterStep; // armed for this call only, whether it succeeds or not
    this.afterStep = null;
    this.busy = 'applyGradients';
    try {
      this.step(variableGradients);
    } finally {
      this.busy = null;
    }
    if (after !== null) after();
  }

  private step(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const n = this.collect(variableGradients); // runs user code: getters of the argument
    if (n === 0) return; // nothing to update, nothing counted
    // The last user code of a step (schedules) runs now, before any tfjs memory is looked up; the
    // core then sees a constant rate for this step. Hooks of a custom core optimizer still run
    // inside the step: the data they could free is pinned until the step ends.
    this.fixLearningRates();
    try {
      this.recheck(n);
      this.bind();
      this.releaseDisposed();
      this.hold(n);
      // Saved slots can only belong to variables not seen yet (or to all, right after setWeights).
      if (this.pending && (this.pendingUnchecked || this.hasNewVariable(n))) this.restoreAndPrepare(n);
      else this.prepareEntries(n); // runs user code: build() of a custom optimizer
      const id = ++this.stepId;
      this.syncedCount = 0;
      for (let i = 0; i < n; i++) this.sync(this.stepEntries[i], id, this.stepData[i]);
      if (this.touchesAll) this.syncRest(id);
      this.loadGradients(n);
      this.run(this.runCore);
      for (let i = 0; i < n; i++) {
        this.pairs[i][0] = null; // do not keep gradient memory alive between steps
        this.stepEntries[i].stepped = true;
      }
      this.writeBack();
    } finally {
      this.unpinAll();
      this.restoreLearningRates();
    }
  }

  /** With `useEma`: copies the moving averages into the tfjs variables (end of training). */
  finalizeVariableValues(): void {
    this.checkAlive('finalizeVariableValues');
    this.checkIdle('finalizeVariableValues');
    if (this.bindingMode === null || !this.touchesAll) return; // no averages anywhere
    this.withAllVariables('finalizeVariableValues', this.runFinalize);
  }

  /** Runs `fn` on the core with every known variable synced in from tfjs, then writes them back (no step). */
  private withAllVariables(what: string, fn: () => unknown): void {
    this.bind();
    this.releaseDisposed();
    this.busy = what;
    try {
      this.syncedCount = 0;
      this.syncRest(++this.stepId);
      this.run(fn);
      this.writeBack();
    } finally {
      this.unpinAll();
      this.busy = null;
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return encodeConfig(this.core.getConfig());
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    if (typeof cls !== 'function') {
      throw new TypeError(`fromConfig(cls, config): cls must be a class made by wasm-optim/tfjs toTfjs() (tfjs passes it first), got ${cls === null ? 'null' : typeof cls}`);
    }
    const C = cls as unknown as TfjsOptimizerClass<CoreOptimizer, unknown[]>;
    if (typeof C.coreClass?.fromConfig !== 'function') {
      throw new TypeError(`fromConfig: ${String(C.className)} is not a class made by wasm-optim/tfjs toTfjs()`);
    }
    return new C(C.coreClass.fromConfig(decodeConfig(config))) as unknown as T; // the constructor checks the class
  }

  /**
   * `[iter, ...every optimizer variable]`, named `<variable>/<slot>` (unique). The tensors belong to
   * the optimizer: they stay valid until the next getWeights() or dispose() (so repeated
   * model.save calls do not leak them); clone them to keep them longer.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    this.checkAlive('getWeights');
    this.checkIdle('getWeights');
    this.releaseDisposed(); // the state of disposed variables is not saved
    tf.dispose(this.exported);
    this.exported = [];
    const state = this.core.getState();
    const out: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(state.iterations, 'int32') }];
    if (state.plateau) out.push({ name: PLATEAU, tensor: tf.tensor1d(encodePlateau(state.plateau), 'int32') });
    for (const name of Object.keys(state.variables)) {
      if (this.pending?.has(name)) continue; // set by setWeights, not yet applied: the saved value wins
      const { shape, values } = state.variables[name];
      out.push({ name, tensor: tf.tensor(Float32Array.from(values), shape, 'float32') });
    }
    if (this.pending) {
      for (const [name, p] of this.pending) out.push({ name, tensor: tf.tensor(p.values.slice(), p.shape, 'float32') });
    }
    for (const w of out) this.exported.push(tf.keep(w.tensor));
    return out;
  }

  /**
   * Restores `getWeights()` output (as loadLayersModel does with a saved optimizer). The values are
   * copied at once (the caller may dispose the tensors); slots are matched to variables by name at
   * the next step, allowing for tfjs-layers' '_<k>' renaming of a reloaded model's variables. If
   * none of the saved slots matches a variable being trained, that step throws.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.checkAlive('setWeights');
    this.checkIdle('setWeights');
    const where = `${this.getClassName()}.setWeights`;
    if (!Array.isArray(weightValues) || weightValues.length === 0) {
      throw new TypeError(`${where}: expected [{ name: 'iter', tensor }, ...{ name, tensor }] as getWeights() returns`);
    }
    // Every element's name and tensor are read once, before the first await (user code may run there).
    const count = weightValues.length;
    const items: { name: string; tensor: tf.Tensor }[] = [];
    for (let i = 0; i < count; i++) {
      const w: unknown = weightValues[i];
      const name: unknown = w !== null && typeof w === 'object' ? (w as NamedTensor).name : undefined;
      const tensor: unknown = w !== null && typeof w === 'object' ? (w as NamedTensor).tensor : undefined;
      if (typeof name !== 'string' || name === '' || !(tensor instanceof tf.Tensor)) {
        throw new TypeError(`${where}: weightValues[${i}] must be { name, tensor } with a non-empty name and a tf.Tensor`);
      }
      items.push({ name, tensor });
    }
    const read = async (i: number): Promise<{ name: string; tensor: tf.Tensor; values: tf.TypedArray }> => {
      const { name, tensor } = items[i];
      if (tensor.isDisposed) throw new Error(`${where}: the tensor of '${name}' was already disposed`);
      return { name, tensor, values: (await tensor.data()) as tf.TypedArray };
    };
    const iter = await read(0);
    const iterations = iter.values.length === 1 ? iter.values[0] : NaN; // int32 as saved: exact beyond 2^24
    if (iter.name !== 'iter' || !Number.isInteger(iterations) || iterations < 0) {
      throw new TypeError(`${where}: weightValues[0] must be the iteration count { name: 'iter', tensor: scalar int >= 0 }, got '${iter.name}'`);
    }
    const slots = new Map<string, { shape: number[]; values: Float32Array }>();
    let plateau: PlateauState | undefined;
    for (let i = 1; i < count; i++) {
      const w = await read(i);
      if (w.name === PLATEAU) {
        if (plateau !== undefined) throw new Error(`${where}: the name '${w.name}' appears twice`);
        plateau = decodePlateau(w.tensor.dtype, w.values, where);
        continue;
      }
      if (w.tensor.dtype !== 'float32') throw new TypeError(`${where}: '${w.name}' has dtype ${w.tensor.dtype}, expected float32`);
      if (w.name === 'iter' || slots.has(w.name)) throw new Error(`${where}: the name '${w.name}' appears twice`);
      slots.set(w.name, { shape: [...w.tensor.shape], values: Float32Array.from(w.values) }); // a copy: the caller disposes
    }
    const { plateau: _, ...now } = this.core.getState();
    void _;
    this.core.setState({ ...now, iterations, ...(plateau ? { plateau } : {}) });
    this.pending = slots.size > 0 ? slots : null;
    this.pendingUnchecked = slots.size > 0;
  }

  /** Frees the slots (in the tfjs heap or the arena) and the tensors getWeights returned. */
  override dispose(): void {
    if (this.isDisposed) return;
    this.checkIdle('dispose');
    this.isDisposed = true;
    tf.dispose(this.exported);
    this.exported = [];
    this.core.dispose();
    for (const e of this.entryList) e.core.dispose();
    this.entries.clear();
    this.entryList.length = 0;
    super.dispose();
  }

  // ---------------------------------------------------------------- internals

  private checkAlive(what: string): void {
    if (this.isDisposed) throw new Error(`${this.getClassName()}.${what}: the optimizer was disposed`);
  }

  /** Refuses a call from user code that a step runs (it would reuse the step's scratch and pins). */
  private checkIdle(what: string): void {
    if (this.busy !== null) {
      throw new Error(`${this.getClassName()}.${what}: called from inside ${this.busy} (a learning-rate schedule, a getter of its argument or a hook of a custom optimizer); call it after the step returns`);
    }
  }

  /** Validates the step's input and fills stepVars/stepGrads. Throws before anything is written. */
  private collect(vg: tf.NamedTensorMap | NamedTensor[]): number {
    const where = `${this.getClassName()}.applyGradients`;
    let n = 0;
    if (Array.isArray(vg)) {
      for (let i = 0, count = vg.length; i < count; i++) {
        const item: unknown = vg[i];
        // name and tensor are read once each (getters of user objects run once).
        const name: unknown = item !== null && typeof item === 'object' ? (item as NamedTensor).name : undefined;
        if (typeof name !== 'string') throw new TypeError(`${where}: element ${i} must be a { name, tensor } object`);
        n = this.collectOne(name, (item as NamedTensor).tensor, n, where);
      }
    } else if (vg instanceof Map) {
      throw new TypeError(`${where}: a Map is not supported: pass a plain { [variableName]: gradient } object or a { name, tensor }[] list`);
    } else if (vg !== null && typeof vg === 'object') {
      for (const name in vg) if (Object.prototype.hasOwnProperty.call(vg, name)) n = this.collectOne(name, vg[name], n, where);
    } else {
      throw new TypeError(`${where}: expected a { [variableName]: gradient } map or a { name, tensor }[] list`);
    }
    return n;
  }

  private collectOne(name: string, g: tf.Tensor | null | undefined, n: number, where: string): number {
    if (g === null || g === undefined) return n;
    // An own-property lookup: 'toString' or 'constructor' must not find Object.prototype's members.
    const vars = tf.engine().registeredVariables;
    const v = Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : undefined;
    if (v === undefined || v.isDisposed) throw new Error(`${where}: there is no live tf.Variable named '${name}' (was it disposed?)`);
    if (v.dtype !== 'float32') throw new TypeError(`${where}: variable '${name}' has dtype ${v.dtype}; only float32 variables can be trained`);
    if (!(g instanceof tf.Tensor)) throw new TypeError(`${where}: the gradient for '${name}' must be a tf.Tensor or null`);
    if (g.isDisposed) throw new Error(`${where}: the gradient for '${name}' was already disposed`);
    if (g.dtype !== 'float32') throw new TypeError(`${where}: the gradient for '${name}' has dtype ${g.dtype}, expected float32`);
    if (!sameShape(g.shape, v.shape)) {
      throw new RangeError(`${where}: the gradient for '${name}' has shape ${JSON.stringify(g.shape)}, the variable ${JSON.stringify(v.shape)}`);
    }
    // What the kernels read and write is bounded by tfjs' own record of the data, not by a tensor's
    // fields (which an object can redefine): both must hold the variable's size in float32.
    const size = sizeOf(v.shape);
    if (!holds(v, size) || !holds(g, size)) {
      throw new RangeError(`${where}: tfjs' record of the data of '${name}' or of its gradient does not hold ${size} float32 values (a tensor whose shape or dtype was redefined?)`);
    }
    for (let j = 0; j < n; j++) if (this.stepVars[j] === v) throw new Error(`${where}: variable '${name}' appears twice`);
    if (size === 0) return n; // nothing to update
    this.stepVars[n] = v;
    this.stepGrads[n] = g;
    return n + 1;
  }

  /**
   * Evaluates every schedule of the chain (a wrapper's inner optimizer too) at its step and gives
   * the optimizer that value for this step; restoreLearningRates puts the schedules back. The core
   * would compute the same float32 value itself, but later, with tfjs memory already bound.
   */
  private fixLearningRates(): void {
    const c = this.chain;
    for (let i = 0; i < c.length; i++) {
      const schedule = c[i].learningRateSchedule;
      this.schedules[i] = schedule;
      if (schedule === null) continue;
      try {
        c[i].learningRate = c[i].learningRate;
      } catch (e) {
        this.restoreLearningRates();
        throw e;
      }
    }
  }

  private restoreLearningRates(): void {
    const c = this.chain;
    for (let i = c.length - 1; i >= 0; i--) {
      const schedule = this.schedules[i];
      if (schedule === null || schedule === undefined) continue;
      this.schedules[i] = null;
      c[i].learningRate = schedule;
    }
  }

  /** After user code ran (getters, schedules): the step's variables and gradients must still be there. */
  private recheck(n: number): void {
    const vars = tf.engine().registeredVariables;
    for (let i = 0; i < n; i++) {
      const v = this.stepVars[i];
      if (v.isDisposed || vars[v.name] !== v) {
        throw new Error(`${this.getClassName()}.applyGradients: variable '${v.name}' was disposed (or replaced) during the step, by a learning-rate schedule or other code it ran; nothing was changed`);
      }
      if (this.stepGrads[i].isDisposed) {
        throw new Error(`${this.getClassName()}.applyGradients: the gradient for '${v.name}' was disposed during the step, by a learning-rate schedule or other code it ran; nothing was changed`);
      }
    }
  }

  /**
   * Pins the data of the step's variables and gradients before any hook can run (a variable whose
   * data other tensors share gets a private copy first, zero-copy only: the kernels write it in place).
   */
  private hold(n: number): void {
    const heap = this.heap;
    for (let i = 0; i < n; i++) {
      const v = this.stepVars[i];
      if (heap && heap.data(v.dataId).refCount > 1) unshare(v); // other tensors see this data: write into a private copy instead
      this.stepData[i] = v.dataId;
      this.pin(v.dataId);
      this.pin(this.stepGrads[i].dataId);
    }
  }

  /** Holds `dataId`'s memory until the step ends (tfjs frees data only when its refCount drops to 0). */
  private pin(dataId: object): void {
    (this.boundBackend as tf.KernelBackend).incRef(dataId);
    this.pins[this.pinCount++] = dataId;
  }

  /** Drops the pins; data whose tensor was disposed meanwhile is freed now (as tfjs would have). */
  private unpinAll(): void {
    const b = this.boundBackend as tf.KernelBackend;
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
  private releaseDisposed(): void {
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
  private bind(): void {
    const b = tf.backend();
    if (b === this.boundBackend) return;
    const name = tf.getBackend();
    if (this.boundBackend !== null) {
      throw new Error(
        `${this.getClassName()}: this optimizer's state lives with the '${this.boundName}' backend and tfjs now runs on '${name}'; ` +
          'move it with getWeights() / setWeights() into a new optimizer',
      );
    }
    defaultHeap(); // throws the clear "call ready() first" error before anything is decided
    let mode: TfjsBindingMode = name === 'cpu' && isCpuBackend(b) ? 'cpu' : 'copy';
    if (name === 'wasm' && zeroCopyEnabled) {
      const heap = wasmHeapFor(b);
      if (typeof heap === 'string') warnOnce(`wasm-optim/tfjs: zero-copy is unavailable on the wasm backend (${heap}); using the copy path`);
      else {
        this.heap = heap;
        mode = 'zero-copy';
      }
    }
    this.boundBackend = b;
    this.boundName = name;
    this.bindingMode = mode;
  }

  private hasNewVariable(n: number): boolean {
    for (let i = 0; i < n; i++) if (this.entries.get(this.stepVars[i].name)?.tf !== this.stepVars[i]) return true;
    return false;
  }

  /** The entries of this step's variables, created (and built in the core) for names seen first. */
  private prepareEntries(n: number): void {
    let fresh: Variable[] | null = null;
    for (let i = 0; i < n; i++) {
      const v = this.stepVars[i];
      let e = this.entries.get(v.name);
      if (!e || e.tf !== v) {
        e = this.createEntry(v);
        (fresh ??= []).push(e.core);
      }
      this.stepEntries[i] = e;
    }
    // Slots are allocated before any gradient view is made: an allocation may grow (and detach) memory.
    if (fresh) this.core.prepare(fresh);
  }

  private createEntry(v: tf.Variable): Entry {
    const shape = [...v.shape]; // [] for a scalar, as in tfjs
    let core: Variable;
    if (this.heap) core = Variable.wrap(this.heap, this.heap.data(v.dataId).memoryOffset, shape, { name: v.name });
    else core = new Variable(tf.engine().readSync(v.dataId) as Float32Array, { name: v.name, shape }, defaultHeap()); // pinned: readable even if a hook disposed it
    const e: Entry = { name: v.name, core, shape: [...v.shape], size: v.size, tf: v, dataId: null, tfId: 0, grad: null, synced: 0, stepped: false };
    this.entries.set(v.name, e);
    this.entryList.push(e);
    return e;
  }

  /**
   * Points the core variable at the tfjs data (zero-copy) or copies the values in (copy modes).
   * `held` is the data hold() pinned for a step variable (used even if a hook disposed or assigned
   * the variable since); other variables are pinned here.
   */
  private sync(e: Entry, id: number, held: object | null): void {
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
      const live = this.bindingMode === 'cpu' ? cpuValues(this.boundBackend as tf.KernelBackend, dataId, e.size) : null;
      e.core.value.set(live ?? (tf.engine().readSync(dataId) as Float32Array)); // pinned: readable even if disposed since
    }
  }

  /** Every other known variable (all live: releaseDisposed ran), for EMA and wrappers. */
  private syncRest(id: number): void {
    for (let i = 0; i < this.entryList.length; i++) {
      const e = this.entryList[i];
      if (e.synced !== id) this.sync(e, id, null);
    }
  }

  /** Fills `pairs` with this step's gradients: views of the wasm heap where they lie, or arrays. */
  private loadGradients(n: number): void {
    const heap = this.heap;
    if (heap) {
      this.reserve(heap, n);
      const buffer = heap.memory.buffer;
      for (let i = 0; i < n; i++) {
        const e = this.stepEntries[i];
        const off = heap.data(this.stepGrads[i].dataId).memoryOffset; // pinned by hold()
        let view = e.grad;
        if (view === null || view.buffer !== buffer || view.byteOffset !== off) view = e.grad = new Float32Array(buffer, off, e.size);
        this.setPair(i, view, e.core);
      }
    } else {
      const cpu = this.bindingMode === 'cpu' ? (this.boundBackend as tf.KernelBackend) : null;
      for (let i = 0; i < n; i++) {
        const g = this.stepGrads[i];
        const e = this.stepEntries[i];
        const live = cpu ? cpuValues(cpu, g.dataId, e.size) : null;
        this.setPair(i, live ?? (tf.engine().readSync(g.dataId) as Float32Array), e.core); // pinned by hold()
      }
    }
    this.pairs.length = n;
  }

  /**
   * A variable's first step may allocate (the core's scratch for clipped or scaled gradients, a
   * LossScaleOptimizer's unscaled copy). If that grew the memory, the gradient views made here
   * would be detached under an optimizer that kept them, so the room is made beforehand.
   */
  private reserve(heap: TfjsWasmHeap, n: number): void {
    let bytes = 0;
    for (let i = 0; i < n; i++) if (!this.stepEntries[i].stepped) bytes += this.stepEntries[i].size * 4 + 64;
    if (bytes > 0) heap.free(heap.alloc(2 * bytes + 65536));
  }

  private setPair(i: number, g: Float32Array, v: Variable): void {
    const p = this.pairs[i];
    if (p === undefined) this.pairs[i] = [g, v];
    else {
      p[0] = g;
      p[1] = v;
    }
  }

  /** Runs the core; on the wasm heap, `kernels.*` (used by custom optimizers) are bound to it. */
  private run(fn: () => unknown): void {
    if (this.heap) withHeap(this.heap, fn);
    else fn();
  }

  /**
   * Publishes the new values: refresh XNNPACK's packing (zero-copy) or copy out (copy modes). A
   * variable that code run by the step (a custom optimizer's hook) disposed or assigned keeps what
   * that code did: its update of this step is dropped.
   */
  private writeBack(): void {
    const heap = this.heap;
    for (let i = 0; i < this.syncedCount; i++) {
      const e = this.synced[i];
      const v = e.tf;
      if (v.isDisposed || v.dataId !== e.dataId) continue;
      if (heap) heap.refresh(e.tfId, e.size, e.core.ptr);
      else {
        const b = this.boundBackend as tf.KernelBackend;
        // In place only if no other tensor shares the data: the variable and this step's one pin.
        const live = this.bindingMode === 'cpu' && b.refCount(v.dataId) === 2 ? cpuValues(b, v.dataId, e.size) : null;
        if (live) live.set(e.core.value);
        else assignCopy(v, e.core.value);
      }
    }
  }

  /**
   * Hands the saved slots to the core and builds this step's variables; if either refuses, the core
   * state and the saved slots are put back as they were (a rare path: it may allocate).
   */
  private restoreAndPrepare(n: number): void {
    const core = this.core.getState();
    const pending = new Map(this.pending);
    const unchecked = this.pendingUnchecked;
    try {
      this.restorePending(n);
      this.prepareEntries(n);
      // Build them all now (entries may exist from an earlier refused step): a refused restore
      // surfaces here, where it can be undone, not inside the core's step.
      const vars: Variable[] = [];
      for (let i = 0; i < n; i++) vars.push(this.stepEntries[i].core);
      this.core.prepare(vars);
    } catch (e) {
      this.core.setState(core);
      this.pending = pending.size ? pending : null;
      this.pendingUnchecked = unchecked;
      throw e;
    }
  }

  /**
   * Moves saved slots onto this step's variables: by exact name, else by name without tfjs-layers'
   * '_<k>' suffix (a reloaded model's variables are renamed when the old ones still exist).
   */
  private restorePending(n: number): void {
    const pending = this.pending as Map<string, { shape: number[]; values: Float32Array }>;
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(this.stepVars[i].name);
    const target = new Map<string, string>(); // saved name -> name in this optimizer
    const owners = new Set<string>();
    for (const key of pending.keys()) {
      const owner = ownerOf(key, names);
      if (owner) {
        target.set(key, owner.key);
        owners.add(owner.name);
      }
    }
    if (owners.size === 0) {
      const slots = [...pending.keys()].filter((k) => k.includes('/'));
      if (this.pendingUnchecked && slots.length > 0) {
        throw new Error(
          `${this.getClassName()}: the optimizer state given to setWeights (slots ${slots.slice(0, 4).join(', ')}${slots.length > 4 ? ', ...' : ''}) ` +
            `matches none of the variables being trained (${names.slice(0, 4).join(', ')}${names.length > 4 ? ', ...' : ''})`,
        );
      }
      this.pendingUnchecked = false;
      return;
    }
    // Optimizer-wide variables (no '/', e.g. Nadam's u_product) go by their own name.
    for (const key of pending.keys()) if (!target.has(key) && !key.includes('/')) target.set(key, key);
    // The core's restore by name (one design with its deferred restore): state variables that exist
    // take their values now, the others when this step builds them, all-or-none per variable.
    const entries: StateEntries = new Map();
    for (const [key, name] of target) entries.set(name, pending.get(key) as { shape: number[]; values: Float32Array });
    restoreByName(this.core, entries);
    for (const key of target.keys()) pending.delete(key);
    if (pending.size === 0) this.pending = null;
    this.pendingUnchecked = false;
  }
}

/**
 * The variable (of `names`) a saved slot name belongs to, and the slot's name for it. A wrapper's
 * state lists its inner optimizer's slots behind INNER_STATE_PREFIX ('inner:<variable>/m').
 */
function ownerOf(saved: string, names: readonly string[]): { name: string; key: string } | null {
  let p = 0;
  while (saved.startsWith(INNER_STATE_PREFIX, p)) p += INNER_STATE_PREFIX.length;
  const prefix = saved.slice(0, p);
  const key = saved.slice(p);
  let exact = '';
  for (const name of names) {
    if (name.length > exact.length && key.length > name.length + 1 && key.startsWith(name) && key[name.length] === '/') exact = name;
  }
  if (exact) return { name: exact, key: saved };
  let found: { name: string; at: number } | null = null;
  for (let at = key.indexOf('/'); at > 0; at = key.indexOf('/', at + 1)) {
    const saved = canonicalName(key.slice(0, at));
    for (const name of names) {
      if (canonicalName(name) !== saved) continue;
      if (found && found.at === at && found.name !== name) {
        throw new Error(`wasm-optim/tfjs: the saved slot '${key}' could belong to '${found.name}' or '${name}'; give the variables distinct names`);
      }
      if (!found || at >= found.at) found = { name, at };
    }
  }
  return found ? { name: found.name, key: prefix + found.name + key.slice(found.at) } : null;
}

/**
 * Whether a step may read or write variables that have no gradient in it: EMA (every known
 * variable is averaged, and overwritten every emaOverwriteFrequency) and wrappers (Lookahead's
 * sync), looking through `inner` optimizers.
 */
function touchesAllVariables(o: CoreOptimizer): boolean {
  // A MultiOptimizer with a router function finds its optimizers later: assume the worst.
  return chain(o).some((x) => x.useEma || x instanceof OptimizerWrapper || (x instanceof MultiOptimizer && x.optimizerMap === null));
}

/** The optimizer and the ones it drives (`inner`, for wrappers and LossScaleOptimizer; a MultiOptimizer's optimizers). */
function chain(o: CoreOptimizer, out: CoreOptimizer[] = []): CoreOptimizer[] {
  for (let x: unknown = o; x instanceof CoreOptimizer && !out.includes(x); x = (x as { inner?: unknown }).inner) {
    out.push(x);
    if (x instanceof MultiOptimizer) for (const y of x.optimizers) chain(y, out);
  }
  return out;
}

/** Gives `v` data of its own (a tensor sharing the old data keeps it unchanged). */
function unshare(v: tf.Variable): void {
  const own = tf.tensor(v.dataSync().slice(), v.shape, 'float32');
  v.assign(own);
  own.dispose();
}

/** `v.assign` of a copy of `values` (tf.tensor may keep the array it is given, so it gets its own). */
function assignCopy(v: tf.Variable, values: Float32Array): void {
  const t = tf.tensor(values.slice(), v.shape, 'float32');
  v.assign(t);
  t.dispose();
}

type AnyCoreClass = CoreOptimizerClass<CoreOptimizer, unknown[]>;
const classes = new Map<AnyCoreClass, TfjsOptimizerClass<CoreOptimizer, unknown[]>>();

/**
 * Runs `fn` (work on the core optimizer's variables outside a step: the schedule-free swap) with
 * every variable `opt` has stepped synced in from tfjs and written back after. Before its first
 * step the core has no variable, and nothing runs. Internal: not exported from the package.
 */
export function withTfjsVariables(opt: TfjsOptimizer, what: string, fn: () => void): void {
  opt['checkAlive'](what);
  opt['checkIdle'](what);
  if (opt['bindingMode'] !== null) opt['withAllVariables'](what, fn);
}

/**
 * Runs `fn` once, right after `opt`'s next applyGradients call returns (not if it throws): the
 * schedule-free callback's swap before model.fit's validation, which runs in the same batch after
 * the step. Internal: not exported from the package.
 */
export function runAfterNextStep(opt: TfjsOptimizer, fn: () => void): void {
  opt['afterStep'] = fn;
}

/** Builds the core optimizer a generated class's constructor was given, or is to wrap. */
function coreFromArgs(coreClass: AnyCoreClass, name: string, args: unknown[]): CoreOptimizer {
  const first = args[0];
  if (first instanceof coreClass) {
    if (first.constructor !== coreClass) throw new TypeError(`${name}: expected a ${coreClass.className}, got a ${first.getClassName()}; use fromCore()`);
    if (args.length > 1) throw new TypeError(`${name}: give either a ${coreClass.className} to wrap or constructor arguments, not both`);
    return first;
  }
  // Only wrappers (Lookahead, SWA, LossScaleOptimizer, ...) take an optimizer first; an options-only
  // constructor (no required parameter) would read an optimizer's fields as options.
  if (first instanceof CoreOptimizer && !(coreClass.prototype instanceof OptimizerWrapper) && coreClass.length === 0) {
    throw new TypeError(`${name}: expected ${coreClass.className} options, got a ${first.getClassName()} optimizer; use fromCore() to wrap it`);
  }
  return new coreClass(...args);
}

/**
 * The tf.Optimizer class for a core optimizer class, registered with tf.serialization so that
 * `loadLayersModel` can rebuild it (under 'wasm-optim.<className>'). This is how a user's own
 * subclass of the core `Optimizer` becomes a tfjs optimizer. Cached: one class per core class.
 */
export function toTfjs<C extends CoreOptimizer, A extends unknown[]>(coreClass: CoreOptimizerClass<C, A>): TfjsOptimizerClass<C, A> {
  const key = coreClass as unknown as AnyCoreClass;
  const cached = classes.get(key);
  if (cached) return cached as unknown as TfjsOptimizerClass<C, A>;
  if (typeof coreClass !== 'function' || !(coreClass.prototype instanceof CoreOptimizer)) {
    throw new TypeError('toTfjs: expected a subclass of the wasm-optim Optimizer class');
  }
  const className: unknown = Object.prototype.hasOwnProperty.call(coreClass, 'className') ? coreClass.className : undefined; // read once
  if (typeof className !== 'string' || className === '') {
    throw new TypeError(`toTfjs: ${coreClass.name || 'the class'} needs its own static className (it is the name saved models use)`);
  }
  if (typeof coreClass.fromConfig !== 'function') throw new TypeError(`toTfjs: ${className} needs a static fromConfig`);
  const name = tfjsClassName(className);
  // Registering under a name another class holds would make saved models of that class load as this one.
  for (const [other, generated] of classes) {
    if (generated.className === name && other !== key) {
      throw new Error(`toTfjs: className '${className}' is already used by another optimizer class; give ${coreClass.name || 'your class'} its own static className`);
    }
  }
  const Generated = class extends TfjsOptimizer<C> {
    static override get className(): string {
      return name;
    }

    static get coreClass(): CoreOptimizerClass<C, A> {
      return coreClass;
    }

    constructor(...args: unknown[]) {
      super(coreFromArgs(key, name, args) as C);
    }
  };
  tf.serialization.registerClass(Generated);
  const cls = Generated as unknown as TfjsOptimizerClass<C, A>;
  classes.set(key, cls as unknown as TfjsOptimizerClass<CoreOptimizer, unknown[]>);
  return cls;
}

/** A tf.Optimizer running `optimizer`: a fresh instance of any core optimizer class, a user's subclass included. */
export function fromCore<C extends CoreOptimizer>(optimizer: C): TfjsOptimizer<C> {
  if (!(optimizer instanceof CoreOptimizer)) throw new TypeError('fromCore: expected a wasm-optim Optimizer instance');
  const cls = toTfjs(optimizer.constructor as unknown as CoreOptimizerClass<C, unknown[]>);
  return new cls(optimizer);
}

// A ReduceLROnPlateau's progress travels with the optimizer weights (model.save / loadLayersModel) as
// one int32 tensor holding the bits of its four float64 numbers: exact, and no '/' in the name, so it
// can never be taken for a '<variable>/<slot>' weight.
const PLATEAU = 'lr_plateau';

function encodePlateau(p: PlateauState): Int32Array {
  return new Int32Array(new Float64Array([p.scale, p.best, p.wait, p.cooldown]).buffer);
}

function decodePlateau(dtype: string, values: tf.TypedArray, where: string): PlateauState {
  if (dtype !== 'int32' || values.length !== 8) {
    throw new TypeError(`${where}: '${PLATEAU}' must be the int32 tensor of 8 values that getWeights() writes, got ${dtype} with ${values.length} values`);
  }
  const [scale, best, wait, cooldown] = new Float64Array(Int32Array.from(values).buffer);
  return readPlateau({ scale, best, wait, cooldown }, where);
}
