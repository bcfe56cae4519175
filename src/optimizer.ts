// The optimizer base class: the public subclassing contract (build, updateStep, updateStepSparse,
// getConfig/fromConfig, getState/setState) and the cross-cutting work done in Keras 3's order:
// gradient accumulation -> loss scale -> clipping -> weight decay -> update -> EMA -> iterations.
// docs/custom-optimizer.md is the user-facing description of this file.
import { type Heap } from './arena.js';
import { type Config, deserialize, isSerializedObject } from './registry.js';
import { type LearningRateSchedule } from './schedules/schedule.js';
import { checkScheduled, Hyperparameter, type Scheduled, ScheduledOption, scheduledOption, serializeScheduled } from './hyperparameter.js';
import { accumulate, AliasIndex, aliasesStep, clipGradients, gradientView, inputFinite, Journal, newRecord, prepareGradient, stage, stagedFinite, StepInput, type VarRecord } from './gradients.js';
import { isSparse, type SparseGradient, type SparseScratch, type UniqueSparseGradient } from './sparse.js';
import { decodeState, encodeState } from './state.js';
import { isFloat32Array, typedBuffer, typedByteOffset, typedLength } from './typed.js';
import { checkBoolean, checkNumber, checkOptions, checkShape, type NumberRule, optionalNumber } from './validate.js';
import { Variable } from './variable.js';
import { checkOptionNames } from './options.js';
import { type PlateauState, snapshotState, type StateEntries } from './state-input.js';
import { INT8_MIN_SIZE, type QuantizedState, type QuantKind, type StateDtype } from './int8-code.js';
import { copyStateEntry, QuantizedSlot, restoreInto, stateEntryOf } from './quantized-slot.js';

export type { PlateauState };

export type { SparseGradient, UniqueSparseGradient };

/** A learning rate: a constant, a schedule, or a function of the step (not serializable). */
export type LearningRate = Scheduled;

/** A dense gradient (same size as the variable), a sparse one, or null to skip the variable. */
export type Gradient = Float32Array | SparseGradient | null | undefined;

/** Keras' (gradient, variable) order. */
export type GradientVariablePair = readonly [Gradient, Variable];

/** Options every optimizer accepts: Keras 3's base-class arguments in camelCase. */
export interface OptimizerOptions {
  learningRate?: LearningRate;
  /**
   * Decoupled weight decay: w -= w * weightDecay * lr before the update. A schedule (or a function
   * of the step) is evaluated at the same step as the learning rate and rounded to float32 alike.
   */
  weightDecay?: LearningRate | null;
  /** Clip each gradient to this L2 norm. At most one of the three clipping options. */
  clipnorm?: number | null;
  /** Clip each gradient element to [-clipvalue, clipvalue]. */
  clipvalue?: number | null;
  /** Clip all gradients together to this global L2 norm. */
  globalClipnorm?: number | null;
  /** Keep an exponential moving average of the weights. */
  useEma?: boolean;
  emaMomentum?: number;
  /** Every this many updates, overwrite the weights with their moving average. */
  emaOverwriteFrequency?: number | null;
  /** Gradients are divided by it (the loss was multiplied by it). */
  lossScaleFactor?: number | null;
  /** Sum gradients over this many calls (>= 2) and update with their mean on the last one. */
  gradientAccumulationSteps?: number | null;
  /**
   * Skip (and count, see `nonFiniteSkips`) any call whose gradients hold NaN or Infinity: nothing
   * changes, not even `iterations`. Off by default: as in Keras, NaNs then propagate into the weights.
   */
  skipNonFinite?: boolean;
  name?: string;
}

/** Optimizer state: the raw call counter and every optimizer variable, keyed by its name. */
export interface OptimizerState {
  className: string;
  /** applyGradients calls so far (micro-steps included). */
  iterations: number;
  /** `quantized`: an 8-bit slot's exact codes and absmax (`values` is then their dequantized copy). */
  variables: Record<string, { shape: number[]; values: Float32Array | number[]; quantized?: QuantizedState }>;
  /** A ReduceLROnPlateau's progress, when one is attached (see ReduceLROnPlateau). */
  plateau?: PlateauState;
}

const snake = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

export abstract class Optimizer {
  /** Registry key, also written into configs and saved state. Subclasses set their own. */
  static readonly className: string = 'Optimizer';

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

  /**
   * Option names a subclass adds to the base ones (Keras' names in camelCase). The constructor
   * refuses any other key, so a typo or a Keras snake_case name is an error, not a silent default.
   * Each class lists only its own; the base class collects them along the class chain.
   */
  static readonly optionNames: readonly string[] = [];

  private lr: LearningRate = 0.001;
  /**
   * The step's rate when it is a constant (times any plateau factor), rounded: no work per step.
   * Starts as null on purpose: V8 then stores the number boxed, and hands out that box each step
   * (a field first given a double is kept unboxed, and boxed anew at every read that returns it).
   */
  private lrFixed: number | null = null;
  /**
   * The rate this step hands to updateStep: lrFixed's box, or (a schedule) one number boxed per
   * step; null-initialized like lrFixed so every variable's call shares that one box.
   */
  private lrStep: number | null = null;
  /** A ReduceLROnPlateau's state, or null (see plateauOf). */
  private plateau: PlateauState | null = null;
  private wd: LearningRate | null = null;
  private readonly lrValue = new Hyperparameter();
  /** Options of the subclass that may follow a schedule, resolved at the start of each step. */
  private readonly scheduledOptions: ScheduledOption[] = []; // only the ones that follow a schedule
  private readonly wdValue = new Hyperparameter();
  private rawIterations = 0;
  private heap: Heap | null = null;
  private readonly records = new Map<Variable, VarRecord>();
  private readonly all: VarRecord[] = [];
  /** State variables (slots, EMA averages, accumulators, optimizer-level) in creation order. */
  private readonly own: Variable[] = [];
  private readonly excludedVars = new Set<Variable>();
  private excludedNames: RegExp | null = null;
  private isDisposed = false;
  private skips = 0;
  /** The public method running now (user code it calls must not re-enter), or null. */
  private busy: string | null = null;
  /** Whether any variable was ever registered (a deferred restore is for fresh optimizers only). */
  private everBuilt = false;
  /** State restored before its variables existed: applied when each is created (by name). */
  private pending: StateEntries | null = null;
  // Reused each step so the steady-state step allocates nothing.
  private readonly active: VarRecord[] = [];
  private readonly activeVars: Variable[] = [];
  /** Every pair's variable, as read once by collect (duplicates are refused). */
  private readonly pairVars: Variable[] = [];
  private readonly inputs: StepInput[] = [];
  /** Whether each active variable is built by this step. */
  private readonly isNew: boolean[] = [];
  private readonly journal = new Journal();
  private readonly aliases = new AliasIndex();
  /** Changes whenever variables are registered or released (the alias index follows it). */
  private generation = 0;

  constructor(options: OptimizerOptions = {}) {
    if (new.target === Optimizer) throw new TypeError('Optimizer is abstract: extend it, or use a built-in optimizer such as Adam');
    const name = this.getClassName();
    const o = checkOptions(name, options);
    checkOptionNames(new.target, name, o, BASE_OPTIONS);
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) {
      throw new TypeError(`${name}: name must be a non-empty string`);
    }
    this.name = o.name ?? snake(name);
    if (o.learningRate !== undefined) this.lr = checkScheduled(`${name}: learningRate`, o.learningRate);
    this.fixLearningRate();
    if (o.weightDecay !== undefined && o.weightDecay !== null) this.wd = checkScheduled(`${name}: weightDecay`, o.weightDecay);
    this.clipnorm = optionalNumber(`${name}: clipnorm`, o.clipnorm, { min: 0, float32: true }) || null;
    this.clipvalue = optionalNumber(`${name}: clipvalue`, o.clipvalue, { min: 0, float32: true }) || null;
    this.globalClipnorm = optionalNumber(`${name}: globalClipnorm`, o.globalClipnorm, { min: 0 }) || null;
    const clips = [this.clipnorm, this.clipvalue, this.globalClipnorm].filter((c) => c !== null).length;
    if (clips > 1) {
      throw new RangeError(`${name}: set at most one of clipnorm, clipvalue and globalClipnorm (got ${clips})`);
    }
    this.useEma = o.useEma === undefined ? false : checkBoolean(`${name}: useEma`, o.useEma);
    this.emaMomentum = checkNumber(`${name}: emaMomentum`, o.emaMomentum ?? 0.99, { min: 0, max: 1, float32: true });
    this.emaOverwriteFrequency = optionalNumber(`${name}: emaOverwriteFrequency`, o.emaOverwriteFrequency, {
      min: 1,
      integer: true,
    });
    this.lossScaleFactor = optionalNumber(`${name}: lossScaleFactor`, o.lossScaleFactor, { min: 0, minExclusive: true, float32: true });
    this.gradientAccumulationSteps = optionalNumber(`${name}: gradientAccumulationSteps`, o.gradientAccumulationSteps, {
      min: 2,
      integer: true,
    });
    this.skipNonFinite = o.skipNonFinite === undefined ? false : checkBoolean(`${name}: skipNonFinite`, o.skipNonFinite);
  }

  // ---------------------------------------------------------------- the contract for subclasses

  /**
   * Creates slots for variables this optimizer has not seen yet (all of them on the first step;
   * later, only newcomers). Called by the base class before their first update. Use
   * `addVariableFromReference`. The base implementation does nothing; there is no need to call it.
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
   * The sparse update of one variable: `gradient.indices` are unique and ascending, and
   * `gradient.values` holds one summed row per index. Override only when a cheaper exact form
   * exists. The default densifies the gradient and calls `updateStep`, which is always correct.
   */
  updateStepSparse(gradient: UniqueSparseGradient, variable: Variable, learningRate: number): void {
    const buf = this.recordOf(variable).grad;
    // The step allocates this buffer before its first write (see sparseNeedsDenseBuffer).
    if (buf === null) throw new Error(`${this.getClassName()}.updateStepSparse: no dense buffer for '${variable.name}': sparseNeedsDenseBuffer() returned false`);
    const K = variable.heap.kernels;
    K.fill(buf.ptr, variable.size, 0);
    K.scatterAddRows(buf.ptr, gradient.indices.byteOffset, gradient.values.byteOffset, gradient.indices.length, variable.size / variable.shape[0], 1);
    this.updateStep(buf.value, variable, learningRate);
  }

  /**
   * Whether this step's `updateStepSparse` for `variable` densifies the gradient through the base
   * implementation, so the step must allocate a dense buffer for it before its first write. True
   * by default; an override that updates rows directly (and never calls the base one) returns false.
   */
  protected sparseNeedsDenseBuffer(variable: Variable): boolean {
    void variable;
    return true;
  }

  /**
   * Called once per real update, after clipping and weight decay and before the first
   * `updateStep`: the place for optimizer-wide scalars (Nadam's momentum product).
   */
  beforeUpdateSteps(learningRate: number): void {
    void learningRate;
  }

  /**
   * Called once per real update, after the last `updateStep` and before the EMA: the place for a
   * second pass that needs sums over every variable of the step (Prodigy's step-size estimate).
   */
  afterUpdateSteps(learningRate: number): void {
    void learningRate;
  }

  /** The options, as a JSON-able object: `fromConfig(getConfig())` rebuilds an equal optimizer. */
  getConfig(): Config {
    return {
      name: this.name,
      learningRate: serializeScheduled(this.lr, 'learning rate'),
      weightDecay: this.wd === null ? null : serializeScheduled(this.wd, 'weight decay'),
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
    const rec = this.recordOf(reference);
    if (rec.slots.has(name)) throw new Error(`${this.getClassName()}: slot '${name}' of '${reference.name}' already exists`);
    const slot = this.newVariable(reference.heap, checkShape('addVariableFromReference: shape', shape), `${reference.name}/${name}`, initialValue);
    rec.slots.set(name, slot);
    rec.state.push(slot);
    return slot;
  }

  /**
   * A slot of `reference` (its shape) stored as `dtype`: 'int8' keeps it blockwise in 8 bits
   * (docs/int8-state.md; `kind` 'signed' for a first moment, 'unsigned' for a non-negative second
   * moment; blocks never straddle rows of `rowSize` elements) when the reference has at least 4,096
   * elements, float32 otherwise. Its `value` is then a dequantized copy and its `ptr` the 8-bit
   * block the *Int8 kernels take (test `instanceof QuantizedSlot`).
   */
  protected addSlot(reference: Variable, name: string, options: { dtype: StateDtype; kind: QuantKind; rowSize?: number; initialValue?: number }): Variable {
    const init = options.initialValue ?? 0;
    if (options.dtype !== 'int8' || reference.size < INT8_MIN_SIZE) return this.addVariableFromReference(reference, name, init);
    const rec = this.recordOf(reference);
    if (rec.slots.has(name)) throw new Error(`${this.getClassName()}: slot '${name}' of '${reference.name}' already exists`);
    const slot = this.newVariable(reference.heap, reference.shape, `${reference.name}/${name}`, init, () => new QuantizedSlot(reference, `${reference.name}/${name}`, options.kind, options.rowSize ?? reference.size, init));
    rec.slots.set(name, slot);
    rec.state.push(slot);
    return slot;
  }

  /** An optimizer-level variable (not tied to a model variable), saved in the state under `name`. */
  protected addVariable(name: string, shape: readonly number[] = [1], initialValue = 0): Variable {
    if (!this.heap) throw new Error(`${this.getClassName()}: addVariable needs a built optimizer (call it from build())`);
    return this.newVariable(this.heap, checkShape('addVariable: shape', shape), name, initialValue);
  }

  /** How many variables are registered and state variables exist: a point to roll back to. */
  protected registrationMark(): readonly [records: number, state: number] {
    return [this.all.length, this.own.length];
  }

  /** Frees what was registered after `mark` (a wrapper whose inner optimizer refused a restore). */
  protected rollbackRegistration(mark: readonly [records: number, state: number]): void {
    this.unregister(mark[0], mark[1]);
  }

  /**
   * Declares an option of the subclass that may follow a schedule, like the learning rate (beta1,
   * momentum): a constant is checked against `rule` now; a schedule (or a function of the step) is
   * evaluated at the start of each step, at the learning rate's step, checked against `rule` and
   * rounded to float32. The update reads `.value`; getConfig writes `.config()`.
   */
  protected scheduledOption(name: string, value: unknown, rule: NumberRule): ScheduledOption {
    const option = scheduledOption(this.getClassName(), name, value, rule);
    if (option.scheduled) this.scheduledOptions.push(option);
    return option;
  }

  /** The schedule (or function of the step) `option` follows, or null for a constant. */
  protected optionSchedule(option: ScheduledOption): LearningRateSchedule | ((step: number) => number) | null {
    return typeof option.source === 'number' ? null : option.source;
  }

  /** The value `option` takes in the next update (a schedule is evaluated at the current step). */
  protected optionValue(option: ScheduledOption): number {
    return option.at(this.rawIterations, this.getClassName());
  }

  /**
   * Whether weight decay applies to `variable` (not excluded by `excludeFromWeightDecay`): for a
   * subclass that applies its own decay inside its update (optax's order) instead of the base's.
   */
  protected decaysVariable(variable: Variable): boolean {
    return this.recordOf(variable).decays;
  }

  /**
   * True when `v` (a state variable just created) took its values from a state restored before
   * it existed (see `setState`): a build() that initializes a slot from the weights must then leave it.
   */
  protected restoredFromState(v: Variable): boolean {
    return this.restored.has(v);
  }

  // ---------------------------------------------------------------- public API

  /** Calls skipped because their gradients were not finite (with `skipNonFinite`). */
  get nonFiniteSkips(): number {
    return this.skips;
  }

  /** Real updates so far (under gradient accumulation, micro-steps are not counted). */
  get iterations(): number {
    return this.gradientAccumulationSteps ? Math.floor(this.rawIterations / this.gradientAccumulationSteps) : this.rawIterations;
  }

  /** The learning rate of the next update (a schedule is evaluated at the current step). */
  get learningRate(): number {
    return this.currentLearningRate();
  }

  set learningRate(value: LearningRate) {
    this.lr = checkScheduled(`${this.getClassName()}: learningRate`, value);
    this.fixLearningRate();
  }

  /**
   * The decoupled weight decay: the constant given, or a schedule's value for the next update
   * (rounded to float32); null when there is none.
   */
  get weightDecay(): number | null {
    return typeof this.wd === 'number' || this.wd === null ? this.wd : this.currentWeightDecay();
  }

  /** The schedule or function given as weight decay, if any. */
  get weightDecaySchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return typeof this.wd === 'number' ? null : this.wd;
  }

  /** The schedule or function given as learning rate, if any. */
  get learningRateSchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return typeof this.lr === 'number' ? null : this.lr;
  }

  getClassName(): string {
    return (this.constructor as typeof Optimizer).className;
  }

  /**
   * The slot `name` of `variable` (e.g. 'm', 'v', 'momentum'), or one the base class keeps:
   * 'average' (useEma) and 'gradient_accumulator' (gradientAccumulationSteps).
   */
  getSlot(variable: Variable, name: string): Variable {
    const rec = this.records.get(variable);
    const slot = rec?.slots.get(name) ?? (name === 'average' ? rec?.avg : name === 'gradient_accumulator' ? rec?.acc : null);
    if (!slot) throw new Error(`${this.getClassName()}: no slot '${name}' for variable '${variable?.name}'`);
    return slot;
  }

  /** Every state variable of the optimizer (slots, averages, accumulators), in creation order. */
  get variables(): readonly Variable[] {
    this.releaseDisposed();
    return this.own;
  }

  /** Builds slots for `variables` now, as the first applyGradients would. Idempotent. */
  prepare(variables: readonly Variable[]): void {
    this.checkAlive('prepare');
    this.checkIdle('prepare');
    const vars = this.checkVariables('prepare', variables);
    this.releaseDisposed();
    this.register(vars.filter((v, i) => !this.records.has(v) && vars.indexOf(v) === i));
  }

  /**
   * Weight decay skips these variables (by identity) and names (joined into one regex, searched).
   * As in Keras, a call replaces the exclusions of any earlier call. Allowed after variables were
   * built: the new exclusions apply from the next step.
   */
  excludeFromWeightDecay(options: { variables?: readonly Variable[]; names?: readonly string[] }): void {
    this.checkIdle('excludeFromWeightDecay');
    const o = checkOptions('excludeFromWeightDecay', options);
    checkOptionNames(null, 'excludeFromWeightDecay', o, ['variables', 'names']);
    const rawVariables: unknown = o.variables ?? [];
    const rawNames: unknown = o.names ?? [];
    // Copied once, then only the copies are checked and used.
    const variables = Array.isArray(rawVariables) ? [...(rawVariables as unknown[])] : null;
    const names = Array.isArray(rawNames) ? [...(rawNames as unknown[])] : null;
    if (variables === null || variables.some((v) => !(v instanceof Variable))) {
      throw new TypeError('excludeFromWeightDecay: variables must be an array of Variables');
    }
    if (names === null || names.some((n) => typeof n !== 'string')) {
      throw new TypeError('excludeFromWeightDecay: names must be an array of strings (regular expressions)');
    }
    let regex: RegExp | null = null;
    try {
      regex = names.length ? new RegExp(names.join('|')) : null;
    } catch (e) {
      throw new SyntaxError(`excludeFromWeightDecay: names do not form a valid regular expression: ${(e as Error).message}`);
    }
    this.excludedVars.clear();
    for (const v of variables as Variable[]) this.excludedVars.add(v);
    this.excludedNames = regex;
    for (const rec of this.all) rec.decays = this.decays(rec.variable);
  }

  /**
   * Applies one step of (gradient, variable) pairs. A null gradient skips its variable. Everything
   * is validated, and every buffer allocated, before anything is written: on error, no value,
   * slot, counter or allocation has changed. Returns `iterations`.
   */
  applyGradients(pairs: readonly GradientVariablePair[]): number {
    this.checkAlive('applyGradients');
    this.checkIdle('applyGradients');
    this.busy = 'applyGradients';
    try {
      // User code (a schedule) runs first, before any input is read: it cannot change what was checked.
      this.resolveHyperparameters();
      const n = this.collect(pairs);
      this.releaseDisposed();
      const fresh = this.all.length;
      const own = this.own.length;
      try {
        // Known variables first: a step skipped for non-finite gradients must build nothing.
        this.stageAll(n, false);
        if (this.skipNonFinite && !this.allFinite(n)) {
          this.journal.commit();
          this.skips++;
          return this.iterations;
        }
        if (this.registerNew(n)) this.stageAll(n, true); // the steady state has no new variable
        runStepHooks(this);
      } catch (e) {
        this.journal.rollback();
        this.unregister(fresh, own);
        throw e;
      }
      this.journal.commit();
      return this.update(n);
    } finally {
      this.releaseInputs();
      this.busy = null;
    }
  }

  /** Throws exactly as applyGradients would for these pairs, and changes nothing (for wrappers). */
  validateGradients(pairs: readonly GradientVariablePair[]): void {
    this.checkAlive('applyGradients');
    this.checkIdle('applyGradients');
    try {
      this.collect(pairs);
    } finally {
      this.releaseInputs();
    }
  }

  /** Drops every reference to the caller's arrays (a refused step may have read some). */
  private releaseInputs(): void {
    for (let i = 0; i < this.inputs.length; i++) this.inputs[i].release();
  }

  /** Copies the moving averages into the variables (call at the end of training with useEma). */
  finalizeVariableValues(variables?: readonly Variable[]): void {
    this.checkAlive('finalizeVariableValues');
    this.checkIdle('finalizeVariableValues');
    const vars = variables === undefined ? this.all.map((r) => r.variable) : variables;
    if (!Array.isArray(vars)) throw new TypeError('finalizeVariableValues: variables must be an array of Variables');
    if (!this.useEma) return;
    for (const v of vars) {
      const avg = this.records.get(v)?.avg;
      if (avg && !v.disposed) v.heap.kernels.copy(v.ptr, avg.ptr, v.size);
    }
  }

  /**
   * A copy of the state: iterations and every optimizer variable by name, plus any entries of a
   * deferred restore whose variables do not exist yet (so saving never loses them).
   */
  getState(): OptimizerState {
    this.checkAlive('getState');
    this.releaseDisposed();
    const variables: OptimizerState['variables'] = {};
    for (const v of this.own) {
      if (Object.prototype.hasOwnProperty.call(variables, v.name)) {
        throw new Error(`getState: two optimizer variables are named '${v.name}': give the model variables unique names`);
      }
      variables[v.name] = stateEntryOf(v);
    }
    if (this.pending) for (const [name, e] of this.pending) variables[name] ??= copyStateEntry(e);
    const state: OptimizerState = { className: this.getClassName(), iterations: this.rawIterations, variables };
    if (this.plateau) state.plateau = { ...this.plateau };
    return state;
  }

  /**
   * Restores `getState()` output. Pass `variables` to build a fresh optimizer for them first. The
   * state must name exactly this optimizer's variables, with the same shapes; otherwise an error
   * is thrown and nothing changes. The state is read once, into a private copy, before anything
   * is built or written.
   *
   * Deferred restore: on a fresh optimizer (no variable ever built), called without `variables`
   * (or with none), the state is kept and each state variable takes its values when it is
   * created (by name), as TensorFlow checkpoints restore; `pendingState` lists the names not
   * matched so far.
   */
  setState(state: OptimizerState, variables?: readonly Variable[]): void {
    this.checkAlive('setState');
    this.checkIdle('setState');
    const where = `${this.getClassName()}.setState`;
    const snap = snapshotState(state, where, this.getClassName());
    const vars = variables === undefined ? undefined : this.checkVariables('prepare', variables);
    if ((vars === undefined || vars.length === 0) && !this.everBuilt) {
      this.pending = null;
      this.restoreEntries(snap.entries);
      this.rawIterations = snap.iterations;
      setPlateau(this, snap.plateau);
      return;
    }
    this.releaseDisposed(); // before the rollback marks below are taken
    const before = this.own.length;
    const beforeRecords = this.all.length;
    const pending = this.pending;
    this.pending = null; // an exact restore replaces a deferred one
    try {
      if (vars !== undefined) this.register(vars.filter((v, i) => !this.records.has(v) && vars.indexOf(v) === i));
      const byName = new Map(this.own.map((v) => [v.name, v]));
      for (const [name, entry] of snap.entries) {
        const v = byName.get(name);
        if (!v) throw new Error(`${where}: the state has '${name}', which this optimizer does not have`);
        if (entry.shape.join() !== v.shape.join() || entry.shape.length !== v.shape.length) {
          throw new Error(`${where}: '${name}' has shape ${JSON.stringify(entry.shape)} in the state, ${JSON.stringify(v.shape)} here`);
        }
      }
      for (const v of this.own) {
        if (!snap.entries.has(v.name)) throw new Error(`${where}: the state lacks '${v.name}'`);
      }
    } catch (e) {
      this.unregister(beforeRecords, before);
      this.pending = pending;
      throw e;
    }
    for (const v of this.own) restoreInto(v, snap.entries.get(v.name) as { values: Float32Array });
    this.rawIterations = snap.iterations;
    setPlateau(this, snap.plateau);
  }

  /**
   * Restores state entries by name: a state variable that exists takes its values now (shapes are
   * checked first: on error nothing changes), any other when it is created. When a variable is
   * built from them, all of its state must be restored or none (a partial or foreign entry is an
   * error). The deferred restore of setState/loadState and the tfjs entry's setWeights use it;
   * wrappers route their inner optimizer's entries to it.
   */
  protected restoreEntries(entries: StateEntries): void {
    const byName = new Map(this.own.map((v) => [v.name, v]));
    for (const [name, e] of entries) {
      const v = byName.get(name);
      if (v && (e.shape.length !== v.shape.length || e.shape.join() !== v.shape.join())) {
        throw new Error(`${this.getClassName()}: the restored state has '${name}' with shape ${JSON.stringify(e.shape)}, here it has shape ${JSON.stringify(v.shape)}`);
      }
    }
    for (const [name, e] of entries) {
      const v = byName.get(name);
      if (v) restoreInto(v, e);
      else (this.pending ??= new Map()).set(name, e);
    }
  }

  /** Names of a deferred restore (see `setState`) whose variables have not been created yet. */
  get pendingState(): readonly string[] {
    return this.pending ? [...this.pending.keys()] : [];
  }

  /**
   * A binary checkpoint (docs/state-format.md): format version, class, config, iterations and
   * every optimizer variable by name, with a CRC-32.
   */
  saveState(): Uint8Array {
    this.checkAlive('saveState');
    return encodeState({ ...this.getState(), config: this.getConfig() });
  }

  /**
   * Restores `saveState()` bytes (pass `variables` to build a fresh optimizer for them first;
   * without them a fresh optimizer restores each variable when it is created, see `setState`).
   * Corrupt, truncated, other-version, other-class or mismatched bytes throw and change nothing.
   */
  loadState(bytes: Uint8Array, variables?: readonly Variable[]): void {
    this.checkAlive('loadState');
    this.checkIdle('loadState');
    const s = decodeState(bytes, `${this.getClassName()}.loadState`);
    this.setState({ className: s.className, iterations: s.iterations, variables: s.variables, ...(s.plateau ? { plateau: s.plateau } : {}) }, variables);
  }

  /**
   * Rebuilds the saved optimizer (class from the registry, config, state) for `variables`
   * (without them, the state is restored as each variable is created). A refused checkpoint
   * leaves nothing allocated.
   */
  static fromCheckpoint(bytes: Uint8Array, variables?: readonly Variable[]): Optimizer {
    const s = decodeState(bytes, 'Optimizer.fromCheckpoint');
    const opt: unknown = deserialize({ className: s.className, config: s.config }, 'optimizer');
    if (!(opt instanceof Optimizer)) {
      throw new TypeError(`Optimizer.fromCheckpoint: the checkpoint names '${s.className}', which is not an optimizer class`);
    }
    try {
      opt.setState({ className: s.className, iterations: s.iterations, variables: s.variables, ...(s.plateau ? { plateau: s.plateau } : {}) }, variables);
    } catch (e) {
      opt.dispose();
      throw e;
    }
    return opt;
  }

  /** Frees every slot and buffer. Any later use throws. */
  dispose(): void {
    if (this.isDisposed) return;
    this.checkIdle('dispose');
    this.unregister(0, 0);
    this.pending = null;
    this.isDisposed = true;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  // ---------------------------------------------------------------- internals

  /**
   * Validates every pair (throws before anything is allocated or written) and fills the
   * active-step arrays. Each gradient is read once: its engine-held length, buffer and offset (a
   * subclass cannot lie about them) and, for a sparse one, a private copy of its indices.
   */
  private collect(pairs: readonly GradientVariablePair[]): number {
    // Messages are built only when throwing: a step must not allocate strings.
    if (!Array.isArray(pairs)) throw new TypeError(`${this.where()}: expected an array of [gradient, variable] pairs`);
    let n = 0;
    const count = pairs.length;
    for (let i = 0; i < count; i++) {
      const pair: unknown = pairs[i];
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(`${this.where()}: pairs[${i}] must be a [gradient, variable] pair`);
      }
      const g: unknown = pair[0];
      const v: unknown = pair[1];
      if (!(v instanceof Variable) || v.disposed || (this.heap !== null && v.heap !== this.heap)) {
        this.checkVariable(v, `${this.where()}: pairs[${i}][1]`);
      }
      for (let j = 0; j < i; j++) {
        if (this.pairVars[j] === v) throw new Error(`${this.where()}: variable '${v.name}' appears twice (pairs[${j}] and pairs[${i}])`);
      }
      this.pairVars[i] = v;
      if (g === null || g === undefined) continue;
      const input = (this.inputs[n] ??= new StepInput());
      if (isFloat32Array(g)) {
        const len = typedLength(g);
        if (len !== v.size) {
          throw new RangeError(`${this.where()}: the gradient for '${v.name}' has ${len} values, expected ${v.size} (shape ${JSON.stringify(v.shape)})`);
        }
        input.sparse = false;
        // Where a wasm-resident gradient lies now: an allocation later in the step may grow the
        // memory and detach the caller's view.
        const inWasm = typedBuffer(g) === v.heap.memory.buffer;
        input.ptr = inWasm ? typedByteOffset(g) : -1;
        input.dense = inWasm ? null : g;
      } else if (isSparse(g)) {
        input.rows.read(g, v, this.where());
        input.sparse = true;
      } else {
        throw new TypeError(`${this.where()}: the gradient for '${v.name}' must be a Float32Array, a { indices, values } sparse gradient or null`);
      }
      this.activeVars[n] = v;
      n++;
    }
    if (n === 0) throw new Error(`${this.where()}: no gradients provided for any variable`);
    if (this.heap !== null || n === 1) return n;
    const heap = this.activeVars[0].heap;
    for (let i = 1; i < n; i++) {
      if (this.activeVars[i].heap !== heap) throw new Error(`${this.where()}: variable '${this.activeVars[i].name}' lives in another heap than '${this.activeVars[0].name}'`);
    }
    return n;
  }

  /**
   * Allocates every buffer the step needs for the known variables (`fresh` false) or the ones just
   * built (`fresh` true), and puts each raw gradient in wasm memory. Writes only new or private
   * memory: the caller undoes it (journal rollback, unregister) if anything throws.
   */
  private stageAll(n: number, fresh: boolean): void {
    if (!fresh) {
      for (let i = 0; i < n; i++) {
        this.active[i] = this.records.get(this.activeVars[i]) as VarRecord; // undefined: built after the check
        this.isNew[i] = this.active[i] === undefined;
      }
    }
    const N = this.gradientAccumulationSteps;
    const transform = !N && (this.lossScaleFactor !== null || this.clipnorm !== null || this.clipvalue !== null || this.globalClipnorm !== null);
    // A hook (build) may have disposed a variable of this step: nothing is written yet.
    for (let i = 0; i < n; i++) {
      const v = this.activeVars[i];
      if (v.disposed) throw new Error(`${this.where()}: variable '${v.name}' was disposed during the step (by a build() hook)`);
    }
    this.aliases.refresh(this.generation, this.all);
    for (let i = 0; i < n; i++) {
      const rec = this.active[i];
      if (this.isNew[i] !== fresh) continue;
      const g = this.inputs[i];
      if (g.sparse) {
        this.journal.sparseOf(rec, g.rows.count);
        if (!N && this.sparseNeedsDenseBuffer(rec.variable)) this.journal.gradOf(rec);
        stage(rec, g, false);
      } else {
        const copy = g.ptr < 0 || aliasesStep(g.ptr, rec.variable.size, this.aliases, this.active, this.activeVars, n);
        if (copy || transform) this.journal.gradOf(rec);
        stage(rec, g, copy);
      }
    }
  }

  /** Finiteness of every gradient: staged ones by the SIMD kernel, a new variable's where it is. */
  private allFinite(n: number): boolean {
    for (let i = 0; i < n; i++) {
      const rec = this.active[i];
      if (rec === undefined ? !inputFinite(this.inputs[i], this.activeVars[i]) : !stagedFinite(rec)) return false;
    }
    return true;
  }

  /** The writes, in Keras' order: accumulate or unscale, clip, decay, update, EMA, counter. */
  private update(n: number): number {
    const lr = this.lrStep as number;
    const N = this.gradientAccumulationSteps;
    const inv = this.lossScaleFactor ? 1 / this.lossScaleFactor : 1;
    if (N) {
      const isUpdate = (this.rawIterations + 1) % N === 0;
      for (let i = 0; i < n; i++) accumulate(this.active[i], inv, isUpdate ? 1 / N : 0);
      if (!isUpdate) return this.finishStep();
    } else {
      const transform = inv !== 1 || this.clipnorm !== null || this.clipvalue !== null || this.globalClipnorm !== null;
      for (let i = 0; i < n; i++) prepareGradient(this.active[i], inv, transform);
    }
    clipGradients(this.active, n, this.clipnorm, this.clipvalue, this.globalClipnorm);
    if (this.wd !== null) {
      const c = Math.fround(this.wdValue.value * lr);
      for (let i = 0; i < n; i++) {
        const rec = this.active[i];
        if (rec.decays) rec.variable.heap.kernels.decay(rec.variable.ptr, rec.variable.size, c);
      }
    }
    this.beforeUpdateSteps(lr);
    for (let i = 0; i < n; i++) {
      const rec = this.active[i];
      if (rec.variable.disposed) throw new Error(`${this.where()}: variable '${rec.variable.name}' was disposed during the step (by an updateStep hook)`);
      if (rec.sparseStep) this.updateStepSparse((rec.sparse as SparseScratch).result(), rec.variable, lr);
      else this.updateStep(gradientView(rec), rec.variable, lr);
    }
    this.afterUpdateSteps(lr);
    if (N) for (const rec of this.all) if (rec.acc && !rec.acc.disposed) rec.acc.heap.kernels.fill(rec.acc.ptr, rec.acc.size, 0);
    return this.finishStep();
  }

  /** Made once: a sparse step hands it to SparseInput.read, which a deep call chain may not inline. */
  private whereText: string | null = null;

  private where(): string {
    return (this.whereText ??= `${this.getClassName()}.applyGradients`);
  }

  private checkVariable(v: unknown, where: string): asserts v is Variable {
    if (!(v instanceof Variable)) throw new TypeError(`${where} must be a Variable`);
    if (v.disposed) throw new Error(`${where}: variable '${v.name}' was disposed`);
    if (this.heap && v.heap !== this.heap) throw new Error(`${where}: variable '${v.name}' lives in another heap than this optimizer's`);
  }

  /** A checked copy of a variables argument (all Variables, alive, one heap). */
  private checkVariables(where: string, variables: unknown): Variable[] {
    if (!Array.isArray(variables)) throw new TypeError(`${where}: variables must be an array of Variables`);
    const vars = [...(variables as unknown[])];
    vars.forEach((v, i) => this.checkVariable(v, `${where}: variables[${i}]`));
    const list = vars as Variable[];
    const heap = this.heap ?? list[0]?.heap;
    list.forEach((v, i) => {
      if (v.heap !== heap) throw new Error(`${where}: variables[${i}]: variable '${v.name}' lives in another heap than variables[0]`);
    });
    return list;
  }

  /** Registers the active variables seen for the first time; false (and no allocation) when there are none. */
  private registerNew(n: number): boolean {
    let fresh: Variable[] | null = null;
    for (let i = 0; i < n; i++) if (this.active[i] === undefined) (fresh ??= []).push(this.activeVars[i]);
    if (!fresh) return false;
    this.register(fresh);
    for (let i = 0; i < n; i++) this.active[i] ??= this.records.get(this.activeVars[i]) as VarRecord;
    return true;
  }

  /** Registers variables and builds their slots; if anything throws, everything it made is undone. */
  private register(variables: readonly Variable[]): void {
    if (variables.length === 0) return;
    const heap = this.heap ?? variables[0].heap;
    for (const v of variables) {
      if (v.heap !== heap) throw new Error(`${this.getClassName()}: variable '${v.name}' lives in another heap`);
    }
    const records = this.all.length;
    const own = this.own.length;
    const everBuilt = this.everBuilt;
    this.generation++;
    this.heap = heap;
    this.everBuilt = true;
    const busy = this.busy;
    this.busy ??= 'build';
    try {
      this.registerRecords(variables);
      this.build(variables);
    } catch (e) {
      this.unregister(records, own);
      this.everBuilt = everBuilt;
      throw e;
    } finally {
      this.busy = busy;
    }
    if (this.pending) {
      try {
        this.checkRestored(variables, own);
      } catch (e) {
        this.unregister(records, own);
        this.everBuilt = everBuilt;
        throw e;
      }
      for (let i = own; i < this.own.length; i++) this.pending.delete(this.own[i].name);
      if (this.pending.size === 0) this.pending = null;
    }
    this.restored.clear();
  }

  /**
   * A variable built from a deferred restore takes all of its state from it or none: a state
   * variable restored next to one that was not, or a restored entry under the variable's name
   * that this optimizer does not make, is an error (the checkpoint does not fit this optimizer).
   */
  private checkRestored(variables: readonly Variable[], own: number): void {
    const pending = this.pending as StateEntries;
    for (const v of variables) {
      const prefix = `${v.name}/`;
      let restored: string | null = null;
      let fresh: string | null = null;
      for (let i = own; i < this.own.length; i++) {
        const s = this.own[i];
        if (!s.name.startsWith(prefix)) continue;
        if (this.restored.has(s)) restored ??= s.name;
        else fresh ??= s.name;
      }
      if (restored !== null && fresh !== null) {
        throw new Error(`${this.getClassName()}: the restored state has '${restored}' but lacks '${fresh}'`);
      }
      if (restored === null) continue;
      for (const name of pending.keys()) {
        if (name.startsWith(prefix) && !this.own.some((s) => s.name === name)) {
          throw new Error(`${this.getClassName()}: the restored state has '${name}', which this optimizer does not have`);
        }
      }
    }
  }

  private registerRecords(variables: readonly Variable[]): void {
    for (const v of variables) {
      const rec = newRecord(v, this.decays(v));
      this.records.set(v, rec);
      this.all.push(rec);
      if (this.useEma) rec.state.push((rec.avg = this.newVariable(v.heap, v.shape, `${v.name}/average`, 0)));
      if (this.gradientAccumulationSteps) rec.state.push((rec.acc = this.newVariable(v.heap, v.shape, `${v.name}/gradient_accumulator`, 0)));
    }
  }

  /** Drops the records and state variables created after the given counts (rollback and dispose). */
  private unregister(records: number, own: number): void {
    this.generation++;
    for (const rec of this.all.splice(records)) {
      this.records.delete(rec.variable);
      rec.grad?.dispose();
      rec.sparse?.dispose();
    }
    for (const v of this.own.splice(own)) v.dispose();
    this.restored.clear();
    if (this.all.length === 0 && this.own.length === 0) this.heap = null;
  }

  /**
   * Frees the records and state of variables the caller disposed (a model that creates and drops
   * variables must not leak their slots). Runs where variables are registered and state is read.
   */
  protected releaseDisposed(): void {
    let dead = 0;
    for (let i = 0; i < this.all.length; i++) if (this.all[i].variable.disposed) dead++;
    if (dead === 0) return;
    this.generation++;
    const gone = new Set<Variable>();
    const keep: VarRecord[] = [];
    for (const rec of this.all) {
      if (!rec.variable.disposed) {
        keep.push(rec);
        continue;
      }
      this.records.delete(rec.variable);
      this.excludedVars.delete(rec.variable);
      rec.grad?.dispose();
      rec.sparse?.dispose();
      for (const s of rec.state) gone.add(s);
    }
    this.all.splice(0, this.all.length, ...keep);
    const own = this.own.filter((v) => !gone.has(v));
    for (const v of gone) v.dispose();
    this.own.splice(0, this.own.length, ...own);
    if (this.all.length === 0 && this.own.length === 0) this.heap = null;
  }

  private readonly restored = new Set<Variable>();

  private newVariable(heap: Heap, shape: readonly number[], name: string, init: number, make?: () => Variable): Variable {
    const saved = this.pending?.get(name);
    if (saved && saved.shape.join() !== shape.join()) {
      throw new Error(`${this.getClassName()}: the restored state has '${name}' with shape ${JSON.stringify(saved.shape)}, but it is created with shape ${JSON.stringify(shape)}`);
    }
    const v = make ? make() : Variable.zeros(shape, { name }, heap);
    this.own.push(v);
    if (saved) {
      restoreInto(v, saved);
      this.restored.add(v);
    } else if (init !== 0 && !make) v.value.fill(init);
    return v;
  }

  private recordOf(v: Variable): VarRecord {
    const rec = this.records.get(v);
    if (!rec) throw new Error(`${this.getClassName()}: variable '${v?.name}' is not built in this optimizer`);
    return rec;
  }

  private decays(v: Variable): boolean {
    return !this.excludedVars.has(v) && !(this.excludedNames?.test(v.name) ?? false);
  }

  /** EMA of the weights (every call, micro-steps included, as in Keras), then the counter. */
  private finishStep(): number {
    if (this.useEma) {
      const it = this.iterations;
      const m = it !== 0 ? this.emaMomentum : 0;
      const f = this.emaOverwriteFrequency;
      const overwrite = f !== null && (it + 1) % f === 0;
      for (const rec of this.all) {
        const v = rec.variable;
        if (v.disposed) continue;
        const avg = rec.avg as Variable;
        v.heap.kernels.ema(avg.ptr, v.ptr, v.size, m);
        if (overwrite) v.heap.kernels.copy(v.ptr, avg.ptr, v.size);
      }
    }
    this.rawIterations++;
    return this.iterations;
  }

  private currentLearningRate(): number {
    return this.lrFixed ?? this.lrValue.at(this.lr, this.rawIterations, this.getClassName(), 'learning-rate');
  }

  /**
   * Evaluates every schedule of the step (rate, weight decay, the subclass's options) into memory
   * the optimizer owns, before any input is read. Values stay unboxed from here to the kernels;
   * only a scheduled rate is boxed, once, as updateStep's argument.
   */
  private resolveHyperparameters(): void {
    const step = this.rawIterations;
    const owner = this.getClassName();
    if (this.lrFixed === null) {
      this.lrValue.resolve(this.lr, step, owner, 'learning-rate');
      this.lrStep = this.lrValue.value;
    } else this.lrStep = this.lrFixed;
    if (this.wd !== null) this.wdValue.resolve(this.wd, step, owner, 'weight-decay');
    for (const option of this.scheduledOptions) option.resolve(step, owner);
  }

  /** Precomputes the rate when it is a constant (a schedule is evaluated each step instead). */
  private fixLearningRate(): void {
    const scale = this.plateau === null ? 1 : this.plateau.scale;
    const v = typeof this.lr === 'number' ? Math.fround(this.lr * scale) : NaN;
    this.lrFixed = Number.isFinite(v) ? v : null; // not finite: the step reports it
    this.lrValue.scale = scale;
  }

  /** This step's weight decay (a schedule is evaluated at the learning rate's step), or null. */
  private currentWeightDecay(): number | null {
    return this.wd === null ? null : this.wdValue.at(this.wd, this.rawIterations, this.getClassName(), 'weight-decay');
  }

  /** Throws when the optimizer was disposed (wrappers call it before delegating). */
  protected checkAlive(what: string): void {
    if (this.isDisposed) throw new Error(`${this.getClassName()}.${what}: the optimizer was disposed`);
  }

  /**
   * Throws when called from user code that this optimizer is running (a schedule, build() or an
   * updateStep hook): re-entering would clobber the step's scratch, so it is refused before any write.
   */
  protected checkIdle(what: string): void {
    if (this.busy !== null) {
      throw new Error(`${this.getClassName()}.${what}: called from inside ${this.busy} (a learning-rate schedule, build() or updateStep hook); call it after the step returns`);
    }
  }
}

// Work that must happen inside a step's allocation phase: after every input is checked and every
// buffer allocated, before the first write, so that its failure rolls the step back (a wrapper
// builds its own slots here). Internal: not exported from the package.
const stepHooks = new WeakMap<Optimizer, (() => void)[]>();

/** Runs `hook` in `opt`'s next step (in a wrapper, its innermost optimizer's), before the first write. */
export function addStepHook(opt: Optimizer, hook: () => void): void {
  const list = stepHooks.get(opt);
  if (list) list.push(hook);
  else stepHooks.set(opt, [hook]);
}

/** Removes and returns the hooks added for `opt` (a wrapper forwards them to its inner optimizer). */
export function takeStepHooks(opt: Optimizer): (() => void)[] | undefined {
  const list = stepHooks.get(opt);
  stepHooks.delete(opt);
  return list;
}

function runStepHooks(opt: Optimizer): void {
  const list = takeStepHooks(opt);
  if (list) for (const hook of list) hook();
  stagedListeners.get(opt)?.();
}

// A permanent listener per optimizer, run in every step of it after its step hooks, at the same
// point (everything checked and allocated, nothing written): a MultiOptimizer stages its next inner
// optimizer there, so a failure anywhere rolls back every one of them. Internal.
const stagedListeners = new WeakMap<Optimizer, () => void>();

/** Installs (or, with null, removes) `opt`'s staged listener (see stagedListeners). Internal. */
export function setStagedListener(opt: Optimizer, listener: (() => void) | null): void {
  if (listener) stagedListeners.set(opt, listener);
  else stagedListeners.delete(opt);
}

/** Binds an optimizer that registers no variable of its own (a MultiOptimizer) to `heap`. Internal. */
export function bindHeap(opt: Optimizer, heap: Heap): void {
  opt['heap'] ??= heap;
}

/** Sets `opt`'s raw call counter (a MultiOptimizer restoring an inner optimizer's). Internal. */
export function setRawIterations(opt: Optimizer, iterations: number): void {
  opt['rawIterations'] = iterations;
}

/** `opt.restoreEntries(entries)` for wrappers and the tfjs entry (internal: not exported from the package). */
export function restoreByName(opt: Optimizer, entries: StateEntries): void {
  opt['restoreEntries'](entries);
}

/**
 * The optimizer whose learning rate a ReduceLROnPlateau scales: a wrapper's (or loss scaling's)
 * inner optimizer, which owns the learning rate. Internal.
 */
export function learningRateOwner(opt: Optimizer): Optimizer {
  let o = opt;
  for (let inner = innerOf(o); inner !== null; inner = innerOf(o)) o = inner;
  return o;
}

function innerOf(opt: Optimizer): Optimizer | null {
  const inner: unknown = (opt as { inner?: unknown }).inner;
  return inner instanceof Optimizer ? inner : null;
}

/** A ReduceLROnPlateau's state in `opt` (the learning-rate owner), or null. Internal. */
export function plateauOf(opt: Optimizer): PlateauState | null {
  return opt['plateau'];
}

export function setPlateau(opt: Optimizer, state: PlateauState | null): void {
  opt['plateau'] = state;
  opt['fixLearningRate']();
}

/** The base-class option names (Keras 3's, camelCase). */
const BASE_OPTIONS: readonly string[] = [
  'learningRate', 'weightDecay', 'clipnorm', 'clipvalue', 'globalClipnorm', 'useEma', 'emaMomentum',
  'emaOverwriteFrequency', 'lossScaleFactor', 'gradientAccumulationSteps', 'skipNonFinite', 'name',
];

