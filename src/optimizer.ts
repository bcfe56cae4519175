// The optimizer base class as a subclass author meets it, in Keras 3's order: options, the hooks a
// subclass implements (build, updateStep, ...), the helpers it calls (slots, scheduled options),
// then the public API. The work lives in ./base/: step.ts (the step pipeline, in Keras' order),
// registration.ts (variables and slots), save-restore.ts (state), core.ts (private state).
// docs/custom-optimizer.md is the user-facing description of this file.
import { type Config, deserialize, isSerializedObject } from './registry.js';
import { type LearningRateSchedule } from './schedules/schedule.js';
import { checkScheduled, type ScheduledOption, scheduledOption, serializeScheduled } from './hyperparameter.js';
import { type SparseGradient, type UniqueSparseGradient } from './sparse.js';
import { decodeState, encodeState } from './state.js';
import { type NumberRule } from './validate.js';
import { type Variable } from './variable.js';
import { type PlateauState, type StateEntries } from './state-input.js';
import { type QuantKind, type StateDtype } from './int8-code.js';
import { Core, currentLearningRate, currentWeightDecay, fixLearningRate, iterationsOf, readBaseOptions } from './base/core.js';
import * as registration from './base/registration.js';
import * as saveRestore from './base/save-restore.js';
import { classFusesPipeline } from './base/pipeline.js';
import * as step from './base/step.js';
import { type GradientVariablePair, type LearningRate, type OptimizerOptions, type OptimizerState } from './base/types.js';

export type { Gradient, GradientVariablePair, LearningRate, OptimizerOptions, OptimizerState } from './base/types.js';
export type { PlateauState, SparseGradient, UniqueSparseGradient };

export abstract class Optimizer {
  /** Registry key, also written into configs and saved state. Subclasses set their own. */
  static readonly className: string = 'Optimizer';

  /** Option names a subclass adds (Keras' in camelCase; each class lists its own). Any other key is refused. */
  static readonly optionNames: readonly string[] = [];

  /**
   * true: this class's updateStep passes `this.pipeline` as its kernel's last argument, and the
   * kernel unscales, clips, decays and averages (EMA) as it streams (docs/pipeline.md); its
   * `gradient` is then the raw one. A subclass that overrides an update hook without declaring
   * this again gets the separate passes. Default false.
   */
  static readonly fusesPipeline: boolean = false;

  readonly name: string;
  readonly clipnorm: number | null;
  readonly clipvalue: number | null;
  readonly globalClipnorm: number | null;
  readonly useEma: boolean;
  readonly emaMomentum: number;
  readonly emaOverwriteFrequency: number | null;
  readonly lossScaleFactor: number | null;
  readonly gradientAccumulationSteps: number | null;
  readonly skipNonFinite: boolean;

  /** Everything else the base class keeps (./base/core.ts); overridable hooks bound once. */
  private readonly core = new Core(this, {
    sparseNeedsDenseBuffer: (v) => this.sparseNeedsDenseBuffer(v),
    releaseDisposed: () => this.releaseDisposed(),
    restoreEntries: (e) => this.restoreEntries(e),
    setPipeline: (at) => {
      this.pipeline = at;
    },
  });

  constructor(options: OptimizerOptions = {}) {
    if (new.target === Optimizer) throw new TypeError('Optimizer is abstract: extend it, or use a built-in optimizer such as Adam');
    const o = readBaseOptions(new.target, this.getClassName(), options);
    this.name = o.name;
    if (o.lr !== null) this.core.lr = o.lr;
    fixLearningRate(this.core);
    this.core.wd = o.wd;
    this.clipnorm = o.clipnorm;
    this.clipvalue = o.clipvalue;
    this.globalClipnorm = o.globalClipnorm;
    this.useEma = o.useEma;
    this.emaMomentum = o.emaMomentum;
    this.emaOverwriteFrequency = o.emaOverwriteFrequency;
    this.lossScaleFactor = o.lossScaleFactor;
    this.gradientAccumulationSteps = o.gradientAccumulationSteps;
    this.skipNonFinite = o.skipNonFinite;
    this.core.fuses = classFusesPipeline(new.target);
  }

  // ---------------------------------------------------------------- the contract for subclasses

  /**
   * Creates slots (`addVariableFromReference`) for variables not seen yet: all of them on the first
   * step, later only newcomers, before their first update. The base implementation does nothing.
   */
  build(variables: readonly Variable[]): void {
    void variables;
  }

  /**
   * The dense update of one variable, in place. `gradient` has `variable.size` elements and is a
   * view of wasm memory (clipped, unscaled and accumulated already; do not keep it). `learningRate`
   * is this step's value, rounded to float32. `this.iterations + 1` is the 1-based step number.
   */
  abstract updateStep(gradient: Float32Array, variable: Variable, learningRate: number): void;

  /**
   * The sparse update of one variable (`indices` unique and ascending, one summed row per index).
   * The default densifies and calls `updateStep`; override only with a cheaper exact form.
   */
  updateStepSparse(gradient: UniqueSparseGradient, variable: Variable, learningRate: number): void {
    const buf = registration.recordOf(this.core, variable).grad;
    // The step allocates this buffer before its first write (see sparseNeedsDenseBuffer).
    if (buf === null) throw new Error(`${this.getClassName()}.updateStepSparse: no dense buffer for '${variable.name}': sparseNeedsDenseBuffer() returned false`);
    const K = variable.heap.kernels;
    K.fill(buf.ptr, variable.size, 0);
    K.scatterAddRows(buf.ptr, gradient.indices.byteOffset, gradient.values.byteOffset, gradient.indices.length, variable.size / variable.shape[0], 1);
    this.updateStep(buf.value, variable, learningRate);
  }

  /**
   * Whether `updateStepSparse` densifies through the base implementation, so the step allocates a
   * dense buffer before its first write. An override that updates rows directly returns false.
   */
  protected sparseNeedsDenseBuffer(variable: Variable): boolean {
    void variable;
    return true;
  }

  /**
   * In updateStep of a class that declares `fusesPipeline`: the address of this variable's
   * pipeline record, to pass as the kernel's last argument (`pl`); 0 when the base class did the
   * pipeline already (or there is none). Written by the base class only. A field, not a getter:
   * a getter is one more call in updateStep, and a call V8 does not inline returns its number boxed.
   */
  protected pipeline = 0;

  /** Once per real update, after clipping and weight decay, before the first `updateStep` (Nadam's momentum product). */
  beforeUpdateSteps(learningRate: number): void {
    void learningRate;
  }

  /** Once per real update, after the last `updateStep`, before the EMA (Prodigy's sums over every variable). */
  afterUpdateSteps(learningRate: number): void {
    void learningRate;
  }

  /** The options, as a JSON-able object: `fromConfig(getConfig())` rebuilds an equal optimizer. */
  getConfig(): Config {
    return {
      name: this.name,
      learningRate: serializeScheduled(this.core.lr, 'learning rate'),
      weightDecay: this.core.wd === null ? null : serializeScheduled(this.core.wd, 'weight decay'),
      clipnorm: this.clipnorm,
      clipvalue: this.clipvalue,
      globalClipnorm: this.globalClipnorm,
      useEma: this.useEma,
      emaMomentum: this.emaMomentum,
      emaOverwriteFrequency: this.emaOverwriteFrequency,
      lossScaleFactor: this.lossScaleFactor,
      gradientAccumulationSteps: this.gradientAccumulationSteps,
      skipNonFinite: this.skipNonFinite,
    };
  }

  /** Rebuilds an optimizer from `getConfig()` output (a serialized schedule is deserialized). */
  static fromConfig<T extends Optimizer>(this: new (options: never) => T, config: Config): T {
    if ((this as unknown) === Optimizer) throw new TypeError('Optimizer.fromConfig: Optimizer is abstract; call it on a subclass (Adam.fromConfig) or use deserialize({ className, config })');
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new TypeError('fromConfig: config must be an object');
    // Schedules given for hyperparameters are rebuilt through the registry.
    const options: Record<string, unknown> = { ...config };
    for (const key of Object.keys(options)) {
      const value = options[key];
      if (isSerializedObject(value)) options[key] = deserialize(value, `${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} schedule`);
    }
    return new this(options as never);
  }

  // ---------------------------------------------------------------- helpers for subclasses

  /**
   * A slot of `reference` named `<reference.name>/<name>`, filled with `initialValue`. Its shape is
   * the reference's unless `shape` is given (factored moments, per-row statistics).
   */
  protected addVariableFromReference(reference: Variable, name: string, initialValue = 0, shape: readonly number[] = reference.shape): Variable {
    return registration.addSlotVariable(this.core, reference, name, initialValue, shape);
  }

  /**
   * A slot of `reference` stored as `dtype`: 'int8' is blockwise 8-bit (docs/int8-state.md; `kind`
   * 'signed' or 'unsigned', blocks within rows of `rowSize`) from 4,096 elements, float32 below. An
   * 8-bit slot (`instanceof QuantizedSlot`) has a dequantized `value` and its codes at `ptr`.
   */
  protected addSlot(reference: Variable, name: string, options: { dtype: StateDtype; kind: QuantKind; rowSize?: number; initialValue?: number }): Variable {
    return registration.addTypedSlot(this.core, reference, name, options);
  }

  /** An optimizer-level variable (not tied to a model variable), saved in the state under `name`. */
  protected addVariable(name: string, shape: readonly number[] = [1], initialValue = 0): Variable {
    return registration.addOptimizerVariable(this.core, name, shape, initialValue);
  }

  /** How many variables are registered and state variables exist: a point to roll back to. */
  protected registrationMark(): readonly [records: number, state: number] {
    return [this.core.all.length, this.core.own.length];
  }

  /** Frees what was registered after `mark` (a wrapper whose inner optimizer refused a restore). */
  protected rollbackRegistration(mark: readonly [records: number, state: number]): void {
    registration.unregister(this.core, mark[0], mark[1]);
  }

  /**
   * An option that may follow a schedule like the learning rate (beta1, momentum): a constant is
   * checked against `rule` now, a schedule at the start of each step (then rounded to float32).
   * The update reads `.value`; getConfig writes `.config()`.
   */
  protected scheduledOption(name: string, value: unknown, rule: NumberRule): ScheduledOption {
    const option = scheduledOption(this.getClassName(), name, value, rule);
    if (option.scheduled) this.core.scheduledOptions.push(option);
    return option;
  }

  /** The schedule (or function of the step) `option` follows, or null for a constant. */
  protected optionSchedule(option: ScheduledOption): LearningRateSchedule | ((step: number) => number) | null {
    return typeof option.source === 'number' ? null : option.source;
  }

  /** The value `option` takes in the next update (a schedule is evaluated at the current step). */
  protected optionValue(option: ScheduledOption): number {
    return option.at(this.core.rawIterations, this.getClassName());
  }

  /** Whether weight decay applies to `variable` (for a subclass that decays inside its update, optax's order). */
  protected decaysVariable(variable: Variable): boolean {
    return registration.recordOf(this.core, variable).decays;
  }

  /** Whether `v`, a state variable just created, took its values from a deferred restore (build() must then leave it). */
  protected restoredFromState(v: Variable): boolean {
    return this.core.restored.has(v);
  }

  /** Frees the records and state of variables the caller disposed (a model may create and drop variables). */
  protected releaseDisposed(): void {
    registration.releaseDisposed(this.core);
  }

  /**
   * Restores state entries by name: a state variable that exists takes its values now (shapes are
   * checked first), any other when it is created; all of a variable's state or none. The deferred
   * restore and the tfjs entry's setWeights use it; wrappers route their inner optimizer's entries.
   */
  protected restoreEntries(entries: StateEntries): void {
    saveRestore.restoreEntries(this.core, entries);
  }

  /** Throws when the optimizer was disposed (wrappers call it before delegating). */
  protected checkAlive(what: string): void {
    if (this.core.isDisposed) throw new Error(`${this.getClassName()}.${what}: the optimizer was disposed`);
  }

  /** Throws when called from user code this optimizer is running (a schedule, build(), an updateStep hook). */
  protected checkIdle(what: string): void {
    if (this.core.busy !== null) {
      throw new Error(`${this.getClassName()}.${what}: called from inside ${this.core.busy} (a learning-rate schedule, build() or updateStep hook); call it after the step returns`);
    }
  }

  // ---------------------------------------------------------------- public API

  getClassName(): string {
    return (this.constructor as typeof Optimizer).className;
  }

  /** Real updates so far (under gradient accumulation, micro-steps are not counted). */
  get iterations(): number {
    return iterationsOf(this.core);
  }

  /** Calls skipped because their gradients were not finite (with `skipNonFinite`). */
  get nonFiniteSkips(): number {
    return this.core.skips;
  }

  /** The learning rate of the next update (a schedule is evaluated at the current step). */
  get learningRate(): number {
    return currentLearningRate(this.core);
  }

  set learningRate(value: LearningRate) {
    this.core.lr = checkScheduled(`${this.getClassName()}: learningRate`, value);
    fixLearningRate(this.core);
  }

  /** The schedule or function given as learning rate, if any. */
  get learningRateSchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return typeof this.core.lr === 'number' ? null : this.core.lr;
  }

  /** The decoupled weight decay: the constant, or a schedule's value for the next update (float32); null when none. */
  get weightDecay(): number | null {
    const wd = this.core.wd;
    return typeof wd === 'number' || wd === null ? wd : currentWeightDecay(this.core);
  }

  /** The schedule or function given as weight decay, if any. */
  get weightDecaySchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return typeof this.core.wd === 'number' ? null : this.core.wd;
  }

  /** Weight decay skips these variables (by identity) and names (one regex); a call replaces earlier ones (Keras). */
  excludeFromWeightDecay(options: { variables?: readonly Variable[]; names?: readonly string[] }): void {
    this.checkIdle('excludeFromWeightDecay');
    registration.excludeFromWeightDecay(this.core, options);
  }

  /** Builds slots for `variables` now, as the first applyGradients would. Idempotent. */
  prepare(variables: readonly Variable[]): void {
    this.checkAlive('prepare');
    this.checkIdle('prepare');
    const vars = registration.checkVariables(this.core, 'prepare', variables);
    this.releaseDisposed();
    registration.register(this.core, registration.unregistered(this.core, vars));
  }

  /**
   * Applies one step of (gradient, variable) pairs. A null gradient skips its variable. Everything
   * is validated, and every buffer allocated, before anything is written: on error, no value,
   * slot, counter or allocation has changed. Returns `iterations`.
   */
  applyGradients(pairs: readonly GradientVariablePair[]): number {
    this.checkAlive('applyGradients');
    this.checkIdle('applyGradients');
    return step.applyGradients(this.core, pairs);
  }

  /** Throws exactly as applyGradients would for these pairs, and changes nothing (for wrappers). */
  validateGradients(pairs: readonly GradientVariablePair[]): void {
    this.checkAlive('applyGradients');
    this.checkIdle('applyGradients');
    step.validateGradients(this.core, pairs);
  }

  /**
   * The slot `name` of `variable` (e.g. 'm', 'v', 'momentum'), or one the base class keeps:
   * 'average' (useEma) and 'gradient_accumulator' (gradientAccumulationSteps).
   */
  getSlot(variable: Variable, name: string): Variable {
    return registration.slotOf(this.core, variable, name);
  }

  /** Every state variable of the optimizer (slots, averages, accumulators), in creation order. */
  get variables(): readonly Variable[] {
    this.releaseDisposed();
    return this.core.own;
  }

  /** Copies the moving averages into the variables (call at the end of training with useEma). */
  finalizeVariableValues(variables?: readonly Variable[]): void {
    this.checkAlive('finalizeVariableValues');
    this.checkIdle('finalizeVariableValues');
    step.finalizeVariableValues(this.core, variables);
  }

  /** A copy of the state: iterations and every optimizer variable by name (a deferred restore's too). */
  getState(): OptimizerState {
    this.checkAlive('getState');
    return saveRestore.getState(this.core);
  }

  /**
   * Restores `getState()` output (pass `variables` to build a fresh optimizer for them first). The
   * state must name exactly this optimizer's variables, with the same shapes, or it throws and
   * nothing changes. Deferred restore: a fresh optimizer (nothing built) given no variables keeps
   * the state, and each state variable takes its values when it is created, by name, as
   * TensorFlow checkpoints restore; `pendingState` lists the names not matched so far.
   */
  setState(state: OptimizerState, variables?: readonly Variable[]): void {
    this.checkAlive('setState');
    this.checkIdle('setState');
    saveRestore.setState(this.core, state, variables);
  }

  /** Names of a deferred restore (see `setState`) whose variables have not been created yet. */
  get pendingState(): readonly string[] {
    return this.core.pending ? [...this.core.pending.keys()] : [];
  }

  /** A binary checkpoint (docs/state-format.md): version, class, config, iterations, variables, CRC-32. */
  saveState(): Uint8Array {
    this.checkAlive('saveState');
    return encodeState({ ...this.getState(), config: this.getConfig() });
  }

  /** Restores `saveState()` bytes as `setState` does; bad bytes throw and change nothing. */
  loadState(bytes: Uint8Array, variables?: readonly Variable[]): void {
    this.checkAlive('loadState');
    this.checkIdle('loadState');
    this.setState(saveRestore.stateOf(decodeState(bytes, `${this.getClassName()}.loadState`)), variables);
  }

  /** Rebuilds the saved optimizer (class, config, state) for `variables`; a refused checkpoint leaves nothing allocated. */
  static fromCheckpoint(bytes: Uint8Array, variables?: readonly Variable[]): Optimizer {
    const s = decodeState(bytes, 'Optimizer.fromCheckpoint');
    const opt: unknown = deserialize({ className: s.className, config: s.config }, 'optimizer');
    if (!(opt instanceof Optimizer)) {
      throw new TypeError(`Optimizer.fromCheckpoint: the checkpoint names '${s.className}', which is not an optimizer class`);
    }
    try {
      opt.setState(saveRestore.stateOf(s), variables);
    } catch (e) {
      opt.dispose();
      throw e;
    }
    return opt;
  }

  /** Frees every slot and buffer. Any later use throws. */
  dispose(): void {
    if (this.core.isDisposed) return;
    this.checkIdle('dispose');
    registration.unregister(this.core, 0, 0);
    this.core.pending = null;
    this.core.isDisposed = true;
  }

  get disposed(): boolean {
    return this.core.isDisposed;
  }
}
