// A core optimizer as a tf.Optimizer: one step validates the tfjs input, binds the variables to the
// core (binding.ts: in place on the wasm backend, by copies elsewhere), runs the core and publishes
// the values. Slots are keyed by variable name (never by position); weights.ts carries the state
// through getWeights/setWeights and model.save; factory.ts makes the registered classes.
import * as tf from '@tensorflow/tfjs-core';
import { type LearningRate, MultiOptimizer, Optimizer as CoreOptimizer, OptimizerWrapper, type Variable } from '../index.js';
import { restoreByName } from '../base/internal.js';
import { Binding, type Entry, holds, type Pair, sameShape, sizeOf } from './binding.js';
import { decodeConfig, encodeConfig } from './config.js';
import { type CoreOptimizerClass, type NamedTensor, type TfjsBindingMode } from './types.js';
import { exportWeights, matchSaved, readWeights, type SavedSlots } from './weights.js';

const wrappedCores = new WeakSet<CoreOptimizer>();
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
  /** The backend, its mode, and the core Variable standing for each tfjs variable. */
  private readonly binding = new Binding();
  /** EMA and wrappers (Lookahead's sync) read and write every known variable, not only the step's. */
  private readonly touchesAll: boolean;
  /** Under gradient accumulation the core's `iterations` counts real updates, not calls. */
  private readonly accumulates: boolean;
  // Per-step scratch, reused so a steady-state step allocates nothing.
  private readonly stepVars: tf.Variable[] = [];
  private readonly stepGrads: tf.Tensor[] = [];
  private readonly stepEntries: Entry[] = [];
  /** The data of each step variable, held (pinned) from before any hook runs to the end of the step. */
  private readonly stepData: object[] = [];
  private readonly pairs: Pair[] = [];
  /** The core optimizer and the ones it drives; their schedules are evaluated before memory is bound. */
  private readonly chain: CoreOptimizer[];
  private readonly schedules: (LearningRate | null)[] = [];
  private readonly runCore = (): number => this.core.applyGradients(this.pairs);
  private readonly runFinalize = (): void => this.core.finalizeVariableValues();
  /** Saved slots not yet matched to a variable (setWeights before the variables are seen). */
  private pending: SavedSlots | null = null;
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
    return this.binding.mode;
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
      const binding = this.binding;
      binding.bind(this);
      binding.releaseDisposed();
      binding.hold(n, this.stepVars, this.stepGrads, this.stepData);
      // Saved slots can only belong to variables not seen yet (or to all, right after setWeights).
      if (this.pending && (this.pendingUnchecked || this.hasNewVariable(n))) this.restoreAndPrepare(n);
      else this.prepareEntries(n); // runs user code: build() of a custom optimizer
      const id = binding.beginSync();
      for (let i = 0; i < n; i++) binding.sync(this.stepEntries[i], id, this.stepData[i]);
      if (this.touchesAll) binding.syncRest(id);
      binding.loadGradients(n, this.stepEntries, this.stepGrads, this.pairs);
      binding.run(this.runCore);
      for (let i = 0; i < n; i++) {
        this.pairs[i][0] = null; // do not keep gradient memory alive between steps
        this.stepEntries[i].stepped = true;
      }
      binding.writeBack();
    } finally {
      this.binding.unpinAll();
      this.restoreLearningRates();
    }
  }

  /** With `useEma`: copies the moving averages into the tfjs variables (end of training). */
  finalizeVariableValues(): void {
    this.checkAlive('finalizeVariableValues');
    this.checkIdle('finalizeVariableValues');
    if (this.binding.mode === null || !this.touchesAll) return; // no averages anywhere
    this.withAllVariables('finalizeVariableValues', this.runFinalize);
  }

  /** Runs `fn` on the core with every known variable synced in from tfjs, then writes them back (no step). */
  private withAllVariables(what: string, fn: () => unknown): void {
    const binding = this.binding;
    binding.bind(this);
    binding.releaseDisposed();
    this.busy = what;
    try {
      binding.syncRest(binding.beginSync());
      binding.run(fn);
      binding.writeBack();
    } finally {
      binding.unpinAll();
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
    const C = cls as unknown as { readonly className: unknown; readonly coreClass?: CoreOptimizerClass; new (core: CoreOptimizer): TfjsOptimizer };
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
    this.binding.releaseDisposed(); // the state of disposed variables is not saved
    tf.dispose(this.exported);
    this.exported = [];
    const out = exportWeights(this.core.getState(), this.pending);
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
    const { iterations, slots, plateau } = await readWeights(`${this.getClassName()}.setWeights`, weightValues);
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
    this.binding.disposeEntries();
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

  private hasNewVariable(n: number): boolean {
    for (let i = 0; i < n; i++) if (this.binding.entries.get(this.stepVars[i].name)?.tf !== this.stepVars[i]) return true;
    return false;
  }

  /** The entries of this step's variables, created (and built in the core) for names seen first. */
  private prepareEntries(n: number): void {
    let fresh: Variable[] | null = null;
    for (let i = 0; i < n; i++) {
      const v = this.stepVars[i];
      let e = this.binding.entries.get(v.name);
      if (!e || e.tf !== v) {
        e = this.binding.createEntry(v);
        (fresh ??= []).push(e.core);
      }
      this.stepEntries[i] = e;
    }
    // Slots are allocated before any gradient view is made: an allocation may grow (and detach) memory.
    if (fresh) this.core.prepare(fresh);
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
    const pending = this.pending as SavedSlots;
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(this.stepVars[i].name);
    const match = matchSaved(pending, names);
    if (match === null) {
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
    // The core's restore by name (one design with its deferred restore): state variables that exist
    // take their values now, the others when this step builds them, all-or-none per variable.
    restoreByName(this.core, match.entries);
    for (const key of match.saved) pending.delete(key);
    if (pending.size === 0) this.pending = null;
    this.pendingUnchecked = false;
  }
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

/**
 * Runs `fn` (work on the core optimizer's variables outside a step: the schedule-free swap) with
 * every variable `opt` has stepped synced in from tfjs and written back after. Before its first
 * step the core has no variable, and nothing runs. Internal: not exported from the package.
 */
export function withTfjsVariables(opt: TfjsOptimizer, what: string, fn: () => void): void {
  opt['checkAlive'](what);
  opt['checkIdle'](what);
  if (opt['binding'].mode !== null) opt['withAllVariables'](what, fn);
}

/**
 * Runs `fn` once, right after `opt`'s next applyGradients call returns (not if it throws): the
 * schedule-free callback's swap before model.fit's validation, which runs in the same batch after
 * the step. Internal: not exported from the package.
 */
export function runAfterNextStep(opt: TfjsOptimizer, fn: () => void): void {
  opt['afterStep'] = fn;
}

