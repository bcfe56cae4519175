// The shared half of Lookahead and SWA: an optimizer that drives another one. The inner optimizer
// does the whole Keras pipeline (validation, accumulation, clipping, decay, update, EMA); the
// wrapper keeps one slot per variable and acts after each real update of the inner optimizer.
import { checkOptionNames } from '../options.js';
import { checkOptions } from '../validate.js';
import { addStepHook, restoreByName, takeStepHooks } from '../base/internal.js';
import { type LearningRate, Optimizer, type OptimizerState, type GradientVariablePair } from '../optimizer.js';
import { type StateEntries } from '../state-input.js';
import { type Config, deserialize, isSerializedObject } from '../registry.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { Variable } from '../variable.js';

/**
 * In a wrapper's state, the inner optimizer's variables are listed under this prefix next to the
 * wrapper's own slots, so the state stays a flat OptimizerState (and fits saveState/fromCheckpoint).
 */
export const INNER_STATE_PREFIX = 'inner:';

export abstract class OptimizerWrapper extends Optimizer {
  /** The optimizer that computes and applies the updates. The wrapper owns it: dispose() frees it too. */
  readonly inner: Optimizer;
  /** The name of the wrapper's one slot per variable ('slow', 'average'). */
  protected abstract readonly slotName: string;
  /** Variables with a slot, in build order, and their slots (check `disposed` on both before use). */
  protected readonly tracked: Variable[] = [];
  protected readonly slots: Variable[] = [];
  private readonly index = new Map<Variable, number>();

  constructor(inner: Optimizer, options: { name?: string }) {
    // TypeScript stops `new OptimizerWrapper(...)`; plain JavaScript would get a wrapper with no slot or rule.
    if (new.target === OptimizerWrapper) throw new TypeError('OptimizerWrapper is abstract: extend it (as Lookahead and SWA do)');
    super({ name: checkOptions((new.target as unknown as typeof Optimizer).className, options).name });
    const name = this.getClassName();
    if (!(inner instanceof Optimizer)) throw new TypeError(`${name}: the inner optimizer must be an Optimizer, got ${String(inner)}`);
    if (inner.disposed) throw new Error(`${name}: the inner optimizer was disposed`);
    // Every base-class option but the name belongs on the inner optimizer, which runs that part of
    // the pipeline; false (the default of the boolean ones) is let through.
    for (const key of Object.keys(super.getConfig())) {
      const value = (options as Record<string, unknown>)[key];
      if (key !== 'name' && value !== undefined && value !== null && value !== false) {
        throw new TypeError(`${name}: ${key} belongs on the inner optimizer (${inner.getClassName()}), not on the wrapper`);
      }
    }
    checkOptionNames(new.target, name, options, Object.keys(super.getConfig()));
    this.inner = inner;
  }

  /** Runs after every real update of the inner optimizer; `step` is the inner's new `iterations`. */
  protected abstract afterInnerUpdate(pairs: readonly GradientVariablePair[], step: number): void;

  /**
   * Creates the slot of each variable seen for the first time, starting as a copy of the variable
   * (of its values before the step, when the slot is built by applyGradients).
   */
  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      const slot = this.addVariableFromReference(v, this.slotName);
      if (!this.restoredFromState(slot)) slot.value.set(v.value);
      const i = this.index.get(v);
      if (i === undefined) {
        this.index.set(v, this.tracked.length);
        this.tracked.push(v);
        this.slots.push(slot);
      } else this.slots[i] = slot; // rebuilt after a rolled-back setState disposed the old slot
    }
  }

  /** The wrapper's slot of `v`, or undefined when it has none (yet). */
  protected slotFor(v: Variable): Variable | undefined {
    const i = this.index.get(v);
    if (i === undefined) return undefined;
    const s = this.slots[i];
    return s.disposed ? undefined : s;
  }

  /** A wrapper has no update rule of its own: the inner optimizer's runs inside applyGradients. */
  override updateStep(): void {
    throw new Error(`${this.getClassName()}.updateStep: a wrapper updates through its inner optimizer; call applyGradients`);
  }

  /**
   * The inner optimizer's step first: it validates everything and throws before any write, so a
   * refused step changes nothing here either, and a step it skipped (non-finite gradients) builds
   * nothing. Then the slots of variables seen for the first time (from their values before the
   * step) and, after a real update (not a gradient-accumulation micro-step), the wrapper's own work.
   */
  override applyGradients(pairs: readonly GradientVariablePair[]): number {
    this.checkAlive('applyGradients');
    this.releaseDisposed();
    // Hooks an outer wrapper added for this step run where the inner optimizer's step does.
    const outer = takeStepHooks(this);
    if (outer) for (const hook of outer) addStepHook(this.inner, hook);
    const fresh = this.unbuilt(pairs);
    if (fresh) {
      // The slots of new variables are built inside the inner step, after it has checked and
      // allocated everything and before its first write (from the weights before the step): a
      // refused or skipped step builds none, and a slot that does not fit rolls the step back.
      const mark = this.registrationMark();
      const tracked = this.tracked.length;
      addStepHook(this.inner, () => {
        try {
          super.prepare(fresh);
        } catch (e) {
          this.dropSince(mark, tracked);
          throw e;
        }
      });
    }
    const before = this.inner.iterations;
    let after: number;
    try {
      after = this.inner.applyGradients(pairs);
    } finally {
      takeStepHooks(this.inner); // not run when the inner optimizer refused or skipped the step
    }
    if (after !== before) this.afterInnerUpdate(pairs, after);
    return after;
  }

  /** Frees the slots built since `mark` (and forgets their variables). */
  private dropSince(mark: readonly [number, number], tracked: number): void {
    for (const v of this.tracked.splice(tracked)) this.index.delete(v);
    this.slots.splice(tracked);
    this.rollbackRegistration(mark);
  }

  /** Also forgets disposed variables in the wrapper's own lists. */
  protected override releaseDisposed(): void {
    super.releaseDisposed();
    let dead = 0;
    for (let i = 0; i < this.tracked.length; i++) if (this.tracked[i].disposed) dead++;
    if (dead === 0) return;
    const keep = this.tracked.filter((v) => !v.disposed);
    const slots = keep.map((v) => this.slots[this.index.get(v) as number]);
    this.tracked.splice(0, this.tracked.length, ...keep);
    this.slots.splice(0, this.slots.length, ...slots);
    this.index.clear();
    keep.forEach((v, i) => this.index.set(v, i));
  }

  /** Variables with a gradient and no slot yet, or null (the steady state: no allocation). */
  private unbuilt(pairs: readonly GradientVariablePair[]): Variable[] | null {
    if (!Array.isArray(pairs)) return null; // the inner optimizer reports it
    let fresh: Variable[] | null = null;
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i];
      if (!Array.isArray(pair) || pair[0] === null || pair[0] === undefined) continue;
      const v = pair[1];
      if (v instanceof Variable && !v.disposed && this.slotFor(v) === undefined) (fresh ??= []).push(v);
    }
    return fresh;
  }

  override prepare(variables: readonly Variable[]): void {
    super.prepare(variables);
    this.inner.prepare(variables);
  }

  /** The inner optimizer's counter: real updates so far. */
  override get iterations(): number {
    return this.inner.iterations;
  }

  /** Steps the inner optimizer skipped for non-finite gradients (its `skipNonFinite`). */
  override get nonFiniteSkips(): number {
    return this.inner.nonFiniteSkips;
  }

  override get learningRate(): number {
    return this.inner.learningRate;
  }

  override set learningRate(value: LearningRate) {
    this.inner.learningRate = value;
  }

  override get learningRateSchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return this.inner.learningRateSchedule;
  }

  /** The wrapper's slot by its name, any other slot from the inner optimizer. */
  override getSlot(variable: Variable, name: string): Variable {
    return name === this.slotName ? super.getSlot(variable, name) : this.inner.getSlot(variable, name);
  }

  /** The wrapper's slots, then the inner optimizer's variables. */
  override get variables(): readonly Variable[] {
    return [...super.variables, ...this.inner.variables];
  }

  override excludeFromWeightDecay(options: { variables?: readonly Variable[]; names?: readonly string[] }): void {
    this.inner.excludeFromWeightDecay(options);
  }

  override finalizeVariableValues(variables?: readonly Variable[]): void {
    if (this.disposed) throw new Error(`${this.getClassName()}.finalizeVariableValues: the optimizer was disposed`);
    this.inner.finalizeVariableValues(variables);
  }

  override getConfig(): Config {
    return { name: this.name, optimizer: { className: this.inner.getClassName(), config: this.inner.getConfig() } };
  }

  /** Rebuilds the inner optimizer from `config.optimizer` through the registry, then the wrapper. */
  static override fromConfig<T extends Optimizer>(this: new (options: never) => T, config: Config): T {
    if (config === null || typeof config !== 'object') throw new TypeError('fromConfig: config must be an object');
    const { optimizer, ...options } = config;
    if (!isSerializedObject(optimizer)) {
      throw new TypeError(`fromConfig: config.optimizer must be the inner optimizer as { className, config }, got ${JSON.stringify(optimizer)}`);
    }
    const inner = deserialize(optimizer, 'optimizer');
    const Wrapper = this as unknown as new (inner: unknown, options: Config) => T;
    return new Wrapper(inner, options);
  }

  /**
   * The wrapper's slots, plus the inner optimizer's variables under INNER_STATE_PREFIX;
   * `iterations` is the inner optimizer's counter.
   */
  override getState(): OptimizerState {
    const own = super.getState();
    const inner = this.inner.getState();
    for (const [key, entry] of Object.entries(inner.variables)) own.variables[INNER_STATE_PREFIX + key] = entry;
    return { className: own.className, iterations: inner.iterations, variables: own.variables, ...(inner.plateau ? { plateau: inner.plateau } : {}) };
  }

  /**
   * Restores `getState()` output: the wrapper's slots (checked first, nothing changes if they do not
   * match), then the inner optimizer's. If the inner state is refused, the wrapper's slot values are
   * put back before the error is rethrown (slots built for `variables` stay, zero-cost to rebuild).
   */
  override setState(state: OptimizerState, variables?: readonly Variable[]): void {
    if (state === null || typeof state !== 'object' || typeof state.variables !== 'object' || state.variables === null) {
      return super.setState(state, variables); // throws the base class's error
    }
    const own: OptimizerState['variables'] = {};
    const inner: OptimizerState['variables'] = {};
    for (const [key, entry] of Object.entries(state.variables)) {
      if (key.startsWith(INNER_STATE_PREFIX)) inner[key.slice(INNER_STATE_PREFIX.length)] = entry;
      else own[key] = entry;
    }
    // If the inner optimizer refuses its part, the wrapper goes back exactly as it was: slot
    // values, and no slot built for `variables` (a refused restore must not allocate).
    const saved = super.getState();
    const mark = this.registrationMark();
    const tracked = this.tracked.length;
    const plateau = state.plateau; // the inner optimizer owns the learning rate
    super.setState({ className: state.className, iterations: state.iterations, variables: own }, variables);
    try {
      this.inner.setState({ className: this.inner.getClassName(), iterations: state.iterations, variables: inner, ...(plateau === undefined ? {} : { plateau }) }, variables);
    } catch (e) {
      this.dropSince(mark, tracked);
      super.setState(saved); // the slot values (or the deferred restore) as they were
      throw e;
    }
  }

  /** The wrapper's own entries here, its inner optimizer's (behind INNER_STATE_PREFIX) there. */
  protected override restoreEntries(entries: StateEntries): void {
    const own: StateEntries = new Map();
    const inner: StateEntries = new Map();
    for (const [key, e] of entries) {
      if (key.startsWith(INNER_STATE_PREFIX)) inner.set(key.slice(INNER_STATE_PREFIX.length), e);
      else own.set(key, e);
    }
    super.restoreEntries(own);
    restoreByName(this.inner, inner);
  }

  override dispose(): void {
    if (this.disposed) return;
    super.dispose();
    this.inner.dispose();
  }
}
