// The optimizer's public API, as a user calls it: counters, learning rate and weight decay, steps,
// slots, state save/restore, dispose. Optimizer (../optimizer.ts) extends it with the contract a
// subclass author implements; this class holds the private state (./core.ts) and delegates to the
// machinery: step.ts (the step pipeline, in Keras' order), registration.ts, save-restore.ts.
import { type Config } from '../registry.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { checkScheduled } from '../hyperparameter.js';
import { decodeState, encodeState } from '../state.js';
import { type Variable } from '../variable.js';
import { type StateEntries } from '../state-input.js';
import { Core, currentLearningRate, currentWeightDecay, fixLearningRate, iterationsOf } from './core.js';
import * as registration from './registration.js';
import * as saveRestore from './save-restore.js';
import * as step from './step.js';
import { type GradientVariablePair, type LearningRate, type OptimizerState } from './types.js';

export abstract class BaseOptimizer {
  /** Everything the base class keeps (./core.ts); Optimizer's constructor binds it to itself. */
  private readonly core = new Core();

  /** The options, as a JSON-able object (Optimizer implements it; subclasses extend it). */
  abstract getConfig(): Config;

  // ---------------------------------------------------------------- for subclasses and wrappers

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
    return (this.constructor as unknown as { readonly className: string }).className;
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

/** The private state of `opt` (Optimizer's constructor and the internal modules use it). */
export function coreOf(opt: BaseOptimizer): Core {
  return opt['core'];
}
