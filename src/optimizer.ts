// The optimizer base class as a subclass author meets it, in Keras 3's order: options, the hooks a
// subclass implements (build, updateStep, ...), then the helpers it calls (slots, scheduled
// options). The public API a user calls (steps, slots, state, dispose) is inherited from
// ./base/base-optimizer.ts; the work lives in ./base/: step.ts (the step pipeline, in Keras'
// order), registration.ts (variables and slots), save-restore.ts (state), core.ts (private state).
// docs/custom-optimizer.md is the user-facing description of this file.
import { type Config, deserialize, isSerializedObject } from './registry.js';
import { type LearningRateSchedule } from './schedules/schedule.js';
import { type ScheduledOption, scheduledOption, serializeScheduled } from './hyperparameter.js';
import { type SparseGradient, type UniqueSparseGradient } from './sparse.js';
import { decodeState } from './state.js';
import { type NumberRule } from './validate.js';
import { type Variable } from './variable.js';
import { type PlateauState } from './state-input.js';
import { type QuantKind, type StateDtype } from './int8-code.js';
import { BaseOptimizer, coreOf } from './base/base-optimizer.js';
import { fixLearningRate, readBaseOptions } from './base/core.js';
import * as registration from './base/registration.js';
import * as saveRestore from './base/save-restore.js';
import { classFusesPipeline } from './base/pipeline.js';
import { type OptimizerOptions } from './base/types.js';

export type { Gradient, GradientVariablePair, LearningRate, OptimizerOptions, OptimizerState } from './base/types.js';
export type { PlateauState, SparseGradient, UniqueSparseGradient };

export abstract class Optimizer extends BaseOptimizer {
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

  constructor(options: OptimizerOptions = {}) {
    super();
    if (new.target === Optimizer) throw new TypeError('Optimizer is abstract: extend it, or use a built-in optimizer such as Adam');
    const core = coreOf(this);
    // The machinery reads the options and calls the hooks through these, bound once.
    core.bind(this, {
      sparseNeedsDenseBuffer: (v) => this.sparseNeedsDenseBuffer(v),
      releaseDisposed: () => this.releaseDisposed(),
      restoreEntries: (e) => this.restoreEntries(e),
      setPipeline: (at) => {
        this.pipeline = at;
      },
    });
    const o = readBaseOptions(new.target, this.getClassName(), options);
    this.name = o.name;
    if (o.lr !== null) core.lr = o.lr;
    fixLearningRate(core);
    core.wd = o.wd;
    this.clipnorm = o.clipnorm;
    this.clipvalue = o.clipvalue;
    this.globalClipnorm = o.globalClipnorm;
    this.useEma = o.useEma;
    this.emaMomentum = o.emaMomentum;
    this.emaOverwriteFrequency = o.emaOverwriteFrequency;
    this.lossScaleFactor = o.lossScaleFactor;
    this.gradientAccumulationSteps = o.gradientAccumulationSteps;
    this.skipNonFinite = o.skipNonFinite;
    core.fuses = classFusesPipeline(new.target);
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
    const buf = registration.recordOf(coreOf(this), variable).grad;
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
  override getConfig(): Config {
    const core = coreOf(this);
    return {
      name: this.name,
      learningRate: serializeScheduled(core.lr, 'learning rate'),
      weightDecay: core.wd === null ? null : serializeScheduled(core.wd, 'weight decay'),
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
    return registration.addSlotVariable(coreOf(this), reference, name, initialValue, shape);
  }

  /**
   * A slot of `reference` stored as `dtype`: 'int8' is blockwise 8-bit (docs/int8-state.md; `kind`
   * 'signed' or 'unsigned', blocks within rows of `rowSize`) from 4,096 elements, float32 below. An
   * 8-bit slot (`instanceof QuantizedSlot`) has a dequantized `value` and its codes at `ptr`.
   */
  protected addSlot(reference: Variable, name: string, options: { dtype: StateDtype; kind: QuantKind; rowSize?: number; initialValue?: number }): Variable {
    return registration.addTypedSlot(coreOf(this), reference, name, options);
  }

  /** An optimizer-level variable (not tied to a model variable), saved in the state under `name`. */
  protected addVariable(name: string, shape: readonly number[] = [1], initialValue = 0): Variable {
    return registration.addOptimizerVariable(coreOf(this), name, shape, initialValue);
  }

  /** How many variables are registered and state variables exist: a point to roll back to. */
  protected registrationMark(): readonly [records: number, state: number] {
    const core = coreOf(this);
    return [core.all.length, core.own.length];
  }

  /** Frees what was registered after `mark` (a wrapper whose inner optimizer refused a restore). */
  protected rollbackRegistration(mark: readonly [records: number, state: number]): void {
    registration.unregister(coreOf(this), mark[0], mark[1]);
  }

  /**
   * An option that may follow a schedule like the learning rate (beta1, momentum): a constant is
   * checked against `rule` now, a schedule at the start of each step (then rounded to float32).
   * The update reads `.value`; getConfig writes `.config()`.
   */
  protected scheduledOption(name: string, value: unknown, rule: NumberRule): ScheduledOption {
    const option = scheduledOption(this.getClassName(), name, value, rule);
    if (option.scheduled) coreOf(this).scheduledOptions.push(option);
    return option;
  }

  /** The schedule (or function of the step) `option` follows, or null for a constant. */
  protected optionSchedule(option: ScheduledOption): LearningRateSchedule | ((step: number) => number) | null {
    return typeof option.source === 'number' ? null : option.source;
  }

  /** The value `option` takes in the next update (a schedule is evaluated at the current step). */
  protected optionValue(option: ScheduledOption): number {
    return option.at(coreOf(this).rawIterations, this.getClassName());
  }

  /** Whether weight decay applies to `variable` (for a subclass that decays inside its update, optax's order). */
  protected decaysVariable(variable: Variable): boolean {
    return registration.recordOf(coreOf(this), variable).decays;
  }

  /** Whether `v`, a state variable just created, took its values from a deferred restore (build() must then leave it). */
  protected restoredFromState(v: Variable): boolean {
    return coreOf(this).restored.has(v);
  }

  // ---------------------------------------------------------------- rebuilding a saved optimizer

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
}
