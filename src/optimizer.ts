// The optimizer base class: the public subclassing contract (build, updateStep, updateStepSparse,
// getConfig/fromConfig, getState/setState) and the cross-cutting work done in Keras 3's order:
// gradient accumulation -> loss scale -> clipping -> weight decay -> update -> EMA -> iterations.
// docs/custom-optimizer.md is the user-facing description of this file.
import { type Heap } from './arena.js';
import { type Config, type ConfigValue, deserialize, isSerializedObject } from './registry.js';
import { LearningRateSchedule } from './schedules/schedule.js';
import { accumulate, clipGradients, gradientBuffer, gradientsFinite, gradientView, newRecord, prepareGradient, type VarRecord } from './gradients.js';
import { isSparse, type SparseGradient, type SparseScratch, type UniqueSparseGradient, validateSparse } from './sparse.js';
import { decodeState, encodeState } from './state.js';
import { checkBoolean, checkNumber, checkOptions, checkShape, optionalNumber } from './validate.js';
import { Variable } from './variable.js';

export type { SparseGradient, UniqueSparseGradient };

/** A learning rate: a constant, a schedule, or a function of the step (not serializable). */
export type LearningRate = number | LearningRateSchedule | ((step: number) => number);

/** A dense gradient (same size as the variable), a sparse one, or null to skip the variable. */
export type Gradient = Float32Array | SparseGradient | null | undefined;

/** Keras' (gradient, variable) order. */
export type GradientVariablePair = readonly [Gradient, Variable];

/** Options every optimizer accepts: Keras 3's base-class arguments in camelCase. */
export interface OptimizerOptions {
  learningRate?: LearningRate;
  /** Decoupled weight decay: w -= w * weightDecay * lr before the update. */
  weightDecay?: number | null;
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
  variables: Record<string, { shape: number[]; values: Float32Array | number[] }>;
}

const snake = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

export abstract class Optimizer {
  /** Registry key, also written into configs and saved state. Subclasses set their own. */
  static readonly className: string = 'Optimizer';

  readonly name: string;
  readonly weightDecay: number | null;
  readonly clipnorm: number | null;
  readonly clipvalue: number | null;
  readonly globalClipnorm: number | null;
  readonly useEma: boolean;
  readonly emaMomentum: number;
  readonly emaOverwriteFrequency: number | null;
  readonly lossScaleFactor: number | null;
  readonly gradientAccumulationSteps: number | null;
  readonly skipNonFinite: boolean;

  private lr: LearningRate = 0.001;
  // Typed as unions on purpose: V8 then keeps the boxed numbers as they are (see currentLearningRate).
  private lrSource: number | null = null;
  private lrRounded: number | null = null;
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
  // Reused each step so the steady-state step allocates nothing.
  private readonly active: VarRecord[] = [];
  private readonly activeVars: Variable[] = [];
  private readonly activeGrads: Gradient[] = [];
  /** Byte offset of each active dense gradient that lies in wasm memory, else -1. */
  private readonly activePtr: number[] = [];

  constructor(options: OptimizerOptions = {}) {
    const name = this.getClassName();
    const o = checkOptions(name, options);
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) {
      throw new TypeError(`${name}: name must be a non-empty string`);
    }
    this.name = o.name ?? snake(name);
    if (o.learningRate !== undefined) this.lr = checkLearningRate(`${name}: learningRate`, o.learningRate);
    this.weightDecay = optionalNumber(`${name}: weightDecay`, o.weightDecay, { min: 0 });
    this.clipnorm = optionalNumber(`${name}: clipnorm`, o.clipnorm, { min: 0 }) || null;
    this.clipvalue = optionalNumber(`${name}: clipvalue`, o.clipvalue, { min: 0 }) || null;
    this.globalClipnorm = optionalNumber(`${name}: globalClipnorm`, o.globalClipnorm, { min: 0 }) || null;
    const clips = [this.clipnorm, this.clipvalue, this.globalClipnorm].filter((c) => c !== null).length;
    if (clips > 1) {
      throw new RangeError(`${name}: set at most one of clipnorm, clipvalue and globalClipnorm (got ${clips})`);
    }
    this.useEma = o.useEma === undefined ? false : checkBoolean(`${name}: useEma`, o.useEma);
    this.emaMomentum = checkNumber(`${name}: emaMomentum`, o.emaMomentum ?? 0.99, { min: 0, max: 1 });
    this.emaOverwriteFrequency = optionalNumber(`${name}: emaOverwriteFrequency`, o.emaOverwriteFrequency, {
      min: 1,
      integer: true,
    });
    this.lossScaleFactor = optionalNumber(`${name}: lossScaleFactor`, o.lossScaleFactor, { min: 0, minExclusive: true });
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
    const rec = this.recordOf(variable);
    const buf = (rec.grad ??= gradientBuffer(variable));
    const K = variable.heap.kernels;
    const rowSize = variable.size / variable.shape[0];
    K.fill(buf.ptr, variable.size, 0);
    // Allocating buf may have grown the memory and detached the given views: re-derive them then.
    const g = gradient.values.buffer === variable.heap.memory.buffer ? gradient : (rec.sparse as SparseScratch).result();
    K.scatterAddRows(buf.ptr, g.indices.byteOffset, g.values.byteOffset, g.indices.length, rowSize, 1);
    this.updateStep(buf.value, variable, learningRate);
  }

  /**
   * Called once per real update, after clipping and weight decay and before the first
   * `updateStep`: the place for optimizer-wide scalars (Nadam's momentum product).
   */
  beforeUpdateSteps(learningRate: number): void {
    void learningRate;
  }

  /** The options, as a JSON-able object: `fromConfig(getConfig())` rebuilds an equal optimizer. */
  getConfig(): Config {
    return {
      name: this.name,
      learningRate: serializeLearningRate(this.lr),
      weightDecay: this.weightDecay,
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
    if (config === null || typeof config !== 'object') throw new TypeError('fromConfig: config must be an object');
    const lr: ConfigValue | undefined = config.learningRate;
    const options = { ...config, learningRate: isSerializedObject(lr) ? deserialize(lr, 'learning-rate schedule') : lr };
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
    return slot;
  }

  /** An optimizer-level variable (not tied to a model variable), saved in the state under `name`. */
  protected addVariable(name: string, shape: readonly number[] = [1], initialValue = 0): Variable {
    if (!this.heap) throw new Error(`${this.getClassName()}: addVariable needs a built optimizer (call it from build())`);
    return this.newVariable(this.heap, checkShape('addVariable: shape', shape), name, initialValue);
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
    this.lr = checkLearningRate(`${this.getClassName()}: learningRate`, value);
  }

  /** The schedule or function given as learning rate, if any. */
  get learningRateSchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return typeof this.lr === 'number' ? null : this.lr;
  }

  getClassName(): string {
    return (this.constructor as typeof Optimizer).className;
  }

  /** The slot `name` of `variable` (e.g. 'm', 'v', 'momentum'). */
  getSlot(variable: Variable, name: string): Variable {
    const slot = this.records.get(variable)?.slots.get(name);
    if (!slot) throw new Error(`${this.getClassName()}: no slot '${name}' for variable '${variable?.name}'`);
    return slot;
  }

  /** Every state variable of the optimizer (slots, averages, accumulators), in creation order. */
  get variables(): readonly Variable[] {
    return this.own;
  }

  /** Builds slots for `variables` now, as the first applyGradients would. Idempotent. */
  prepare(variables: readonly Variable[]): void {
    this.checkAlive('prepare');
    if (!Array.isArray(variables)) throw new TypeError('prepare: variables must be an array of Variables');
    variables.forEach((v, i) => this.checkVariable(v, `prepare: variables[${i}]`));
    const heap = this.heap ?? variables[0]?.heap;
    variables.forEach((v, i) => {
      if (v.heap !== heap) throw new Error(`prepare: variables[${i}]: variable '${v.name}' lives in another heap than variables[0]`);
    });
    this.register(variables.filter((v, i) => !this.records.has(v) && variables.indexOf(v) === i));
  }

  /** Weight decay skips these variables (by identity) and names (joined into one regex, searched). */
  excludeFromWeightDecay(options: { variables?: readonly Variable[]; names?: readonly string[] }): void {
    const { variables = [], names = [] } = checkOptions('excludeFromWeightDecay', options);
    if (!Array.isArray(variables) || variables.some((v) => !(v instanceof Variable))) {
      throw new TypeError('excludeFromWeightDecay: variables must be an array of Variables');
    }
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
      throw new TypeError('excludeFromWeightDecay: names must be an array of strings (regular expressions)');
    }
    let regex: RegExp | null = null;
    try {
      regex = names.length ? new RegExp(names.join('|')) : null;
    } catch (e) {
      throw new SyntaxError(`excludeFromWeightDecay: names do not form a valid regular expression: ${(e as Error).message}`);
    }
    for (const v of variables) this.excludedVars.add(v);
    if (regex) this.excludedNames = this.excludedNames ? new RegExp(`${this.excludedNames.source}|${regex.source}`) : regex;
    for (const rec of this.all) rec.decays = this.decays(rec.variable);
  }

  /**
   * Applies one step of (gradient, variable) pairs. A null gradient skips its variable. Everything
   * is validated before anything is written: on error, no value, slot or counter has changed.
   * Returns `iterations`.
   */
  applyGradients(pairs: readonly GradientVariablePair[]): number {
    this.checkAlive('applyGradients');
    const n = this.collect(pairs);
    const lr = this.currentLearningRate();
    if (this.skipNonFinite && !gradientsFinite(this.active, this.activeVars, this.activeGrads, this.activePtr, n)) {
      this.skips++;
      this.activeGrads.fill(null);
      return this.iterations;
    }
    this.registerNew(n);
    const N = this.gradientAccumulationSteps;
    const inv = this.lossScaleFactor ? 1 / this.lossScaleFactor : 1;
    if (N) {
      const isUpdate = (this.rawIterations + 1) % N === 0;
      for (let i = 0; i < n; i++) accumulate(this.active[i], this.activeGrads[i], this.activePtr[i], inv, isUpdate ? 1 / N : 0);
      if (!isUpdate) return this.finishStep();
    } else {
      const transform = inv !== 1 || this.clipnorm !== null || this.clipvalue !== null || this.globalClipnorm !== null;
      for (let i = 0; i < n; i++) prepareGradient(this.active[i], this.activeGrads[i], this.activePtr[i], inv, transform);
    }
    clipGradients(this.active, n, this.clipnorm, this.clipvalue, this.globalClipnorm);
    if (this.weightDecay !== null) {
      const c = Math.fround(this.weightDecay * lr);
      for (let i = 0; i < n; i++) {
        const rec = this.active[i];
        if (rec.decays) rec.variable.heap.kernels.decay(rec.variable.ptr, rec.variable.size, c);
      }
    }
    this.beforeUpdateSteps(lr);
    for (let i = 0; i < n; i++) {
      const rec = this.active[i];
      if (rec.sparseStep) this.updateStepSparse((rec.sparse as SparseScratch).result(), rec.variable, lr);
      else this.updateStep(gradientView(rec, this.activeGrads[i]), rec.variable, lr);
    }
    if (N) for (const rec of this.all) if (rec.acc) rec.acc.heap.kernels.fill(rec.acc.ptr, rec.acc.size, 0);
    return this.finishStep();
  }

  /** Throws exactly as applyGradients would for these pairs, and changes nothing (for wrappers). */
  validateGradients(pairs: readonly GradientVariablePair[]): void {
    this.checkAlive('applyGradients');
    this.collect(pairs);
    this.activeGrads.fill(null);
  }

  /** Copies the moving averages into the variables (call at the end of training with useEma). */
  finalizeVariableValues(variables: readonly Variable[] = this.all.map((r) => r.variable)): void {
    this.checkAlive('finalizeVariableValues');
    if (!Array.isArray(variables)) throw new TypeError('finalizeVariableValues: variables must be an array of Variables');
    if (!this.useEma) return;
    for (const v of variables) {
      const avg = this.records.get(v)?.avg;
      if (avg && !v.disposed) v.heap.kernels.copy(v.ptr, avg.ptr, v.size);
    }
  }

  /** A copy of the state: iterations and every optimizer variable by name. */
  getState(): OptimizerState {
    this.checkAlive('getState');
    const variables: OptimizerState['variables'] = {};
    for (const v of this.own) {
      if (Object.prototype.hasOwnProperty.call(variables, v.name)) {
        throw new Error(`getState: two optimizer variables are named '${v.name}': give the model variables unique names`);
      }
      variables[v.name] = { shape: [...v.shape], values: v.value.slice() };
    }
    return { className: this.getClassName(), iterations: this.rawIterations, variables };
  }

  /**
   * Restores `getState()` output. Pass `variables` to build a fresh optimizer for them first.
   * The state must name exactly this optimizer's variables, with the same shapes; otherwise an
   * error is thrown and nothing changes.
   */
  setState(state: OptimizerState, variables?: readonly Variable[]): void {
    this.checkAlive('setState');
    const where = `${this.getClassName()}.setState`;
    if (state === null || typeof state !== 'object' || typeof state.variables !== 'object' || state.variables === null) {
      throw new TypeError(`${where}: state must be an object with className, iterations and variables`);
    }
    if (state.className !== this.getClassName()) {
      throw new Error(`${where}: the state belongs to a ${String(state.className)}, not a ${this.getClassName()}`);
    }
    checkNumber(`${where}: state.iterations`, state.iterations, { min: 0, integer: true });
    const before = this.own.length;
    const beforeRecords = this.all.length;
    if (variables !== undefined) this.prepare(variables);
    try {
      const byName = new Map(this.own.map((v) => [v.name, v]));
      for (const [name, entry] of Object.entries(state.variables)) {
        const v = byName.get(name);
        if (!v) throw new Error(`${where}: the state has '${name}', which this optimizer does not have`);
        const vals = entry?.values;
        if (!entry || !Array.isArray(entry.shape) || entry.shape.join() !== v.shape.join()) {
          throw new Error(`${where}: '${name}' has shape ${JSON.stringify(entry?.shape)} in the state, ${JSON.stringify(v.shape)} here`);
        }
        if (!(vals instanceof Float32Array) && !Array.isArray(vals)) {
          throw new TypeError(`${where}: values of '${name}' must be a Float32Array or an array of numbers`);
        }
        if (vals.length !== v.size) throw new Error(`${where}: '${name}' has ${vals.length} values, expected ${v.size}`);
      }
      for (const v of this.own) {
        if (!Object.prototype.hasOwnProperty.call(state.variables, v.name)) {
          throw new Error(`${where}: the state lacks '${v.name}'`);
        }
      }
    } catch (e) {
      this.unregister(beforeRecords, before);
      throw e;
    }
    for (const v of this.own) v.assign(state.variables[v.name].values);
    this.rawIterations = state.iterations;
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
   * Restores `saveState()` bytes (pass `variables` to build a fresh optimizer for them first).
   * Corrupt, truncated, other-version, other-class or mismatched bytes throw and change nothing.
   */
  loadState(bytes: Uint8Array, variables?: readonly Variable[]): void {
    this.checkAlive('loadState');
    const s = decodeState(bytes, `${this.getClassName()}.loadState`);
    this.setState({ className: s.className, iterations: s.iterations, variables: s.variables }, variables);
  }

  /** Rebuilds the saved optimizer (class from the registry, config, state) for `variables`. */
  static fromCheckpoint(bytes: Uint8Array, variables: readonly Variable[]): Optimizer {
    const s = decodeState(bytes, 'Optimizer.fromCheckpoint');
    const opt = deserialize({ className: s.className, config: s.config }, 'optimizer') as Optimizer;
    opt.setState({ className: s.className, iterations: s.iterations, variables: s.variables }, variables);
    return opt;
  }

  /** Frees every slot and buffer. Any later use throws. */
  dispose(): void {
    if (this.isDisposed) return;
    this.unregister(0, 0);
    this.isDisposed = true;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  // ---------------------------------------------------------------- internals

  /** Validates every pair (throws before any write) and fills the active-step arrays. */
  private collect(pairs: readonly GradientVariablePair[]): number {
    // Messages are built only when throwing: a step must not allocate strings.
    if (!Array.isArray(pairs)) throw new TypeError(`${this.where()}: expected an array of [gradient, variable] pairs`);
    let n = 0;
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i];
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(`${this.where()}: pairs[${i}] must be a [gradient, variable] pair`);
      }
      const g = pair[0];
      const v = pair[1];
      if (!(v instanceof Variable) || v.disposed || (this.heap !== null && v.heap !== this.heap)) {
        this.checkVariable(v, `${this.where()}: pairs[${i}][1]`);
      }
      for (let j = 0; j < i; j++) {
        if (pairs[j][1] === v) throw new Error(`${this.where()}: variable '${v.name}' appears twice (pairs[${j}] and pairs[${i}])`);
      }
      if (g === null || g === undefined) continue;
      if (g instanceof Float32Array) {
        if (g.length !== v.size) {
          throw new RangeError(`${this.where()}: the gradient for '${v.name}' has ${g.length} values, expected ${v.size} (shape ${JSON.stringify(v.shape)})`);
        }
        // Remember where a wasm-resident gradient lies now: building slots below may grow the
        // memory and detach the caller's view.
        this.activePtr[n] = g.buffer === v.heap.memory.buffer ? g.byteOffset : -1;
      } else if (isSparse(g)) {
        validateSparse(g, v, this.where());
        this.activePtr[n] = g.values.buffer === v.heap.memory.buffer ? g.values.byteOffset : -1;
      } else {
        throw new TypeError(`${this.where()}: the gradient for '${v.name}' must be a Float32Array, a { indices, values } sparse gradient or null`);
      }
      this.active[n] = this.records.get(v) as VarRecord; // undefined for a new variable: set in registerNew
      this.activeVars[n] = v;
      this.activeGrads[n] = g;
      n++;
    }
    if (n === 0) throw new Error(`${this.where()}: no gradients provided for any variable`);
    return n;
  }

  private where(): string {
    return `${this.getClassName()}.applyGradients`;
  }

  private checkVariable(v: unknown, where: string): asserts v is Variable {
    if (!(v instanceof Variable)) throw new TypeError(`${where} must be a Variable`);
    if (v.disposed) throw new Error(`${where}: variable '${v.name}' was disposed`);
    if (this.heap && v.heap !== this.heap) throw new Error(`${where}: variable '${v.name}' lives in another heap than this optimizer's`);
  }

  /** Registers the active variables seen for the first time (only allocates when there are some). */
  private registerNew(n: number): void {
    let fresh: Variable[] | null = null;
    for (let i = 0; i < n; i++) if (this.active[i] === undefined) (fresh ??= []).push(this.activeVars[i]);
    if (!fresh) return;
    this.register(fresh);
    for (let i = 0; i < n; i++) this.active[i] ??= this.records.get(this.activeVars[i]) as VarRecord;
  }

  /** Registers variables and builds their slots; if a subclass's build() throws, everything it made is undone. */
  private register(variables: readonly Variable[]): void {
    if (variables.length === 0) return;
    const heap = this.heap ?? variables[0].heap;
    for (const v of variables) {
      if (v.heap !== heap) throw new Error(`${this.getClassName()}: variable '${v.name}' lives in another heap`);
    }
    const records = this.all.length;
    const own = this.own.length;
    this.heap = heap;
    try {
      this.registerRecords(variables);
      this.build(variables);
    } catch (e) {
      this.unregister(records, own);
      throw e;
    }
  }

  private registerRecords(variables: readonly Variable[]): void {
    for (const v of variables) {
      const rec = newRecord(v, this.decays(v));
      this.records.set(v, rec);
      this.all.push(rec);
      if (this.useEma) rec.avg = this.newVariable(v.heap, v.shape, `${v.name}/average`, 0);
      if (this.gradientAccumulationSteps) rec.acc = this.newVariable(v.heap, v.shape, `${v.name}/gradient_accumulator`, 0);
    }
  }

  /** Drops the records and state variables created after the given counts (rollback and dispose). */
  private unregister(records: number, own: number): void {
    for (const rec of this.all.splice(records)) {
      this.records.delete(rec.variable);
      rec.grad?.dispose();
      rec.sparse?.dispose();
    }
    for (const v of this.own.splice(own)) v.dispose();
    if (this.all.length === 0) this.heap = null;
  }

  private newVariable(heap: Heap, shape: readonly number[], name: string, init: number): Variable {
    const v = Variable.zeros(shape, { name }, heap);
    if (init !== 0) v.value.fill(init);
    this.own.push(v);
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
    this.activeGrads.fill(null); // do not keep the caller's gradients alive
    return this.iterations;
  }

  private currentLearningRate(): number {
    const lr = this.lr;
    const value = typeof lr === 'number' ? lr : lr instanceof LearningRateSchedule ? lr.call(this.rawIterations) : lr(this.rawIterations);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`${this.getClassName()}: the learning-rate schedule returned ${String(value)} at step ${this.rawIterations}; expected a finite number >= 0`);
    }
    // Hand out the same boxed number while the rate is constant: passing a fresh double to
    // updateStep would allocate a heap number every step.
    if (value !== this.lrSource) {
      this.lrSource = value;
      this.lrRounded = Math.fround(value);
    }
    return this.lrRounded as number;
  }

  /** Throws when the optimizer was disposed (wrappers call it before delegating). */
  protected checkAlive(what: string): void {
    if (this.isDisposed) throw new Error(`${this.getClassName()}.${what}: the optimizer was disposed`);
  }
}

function checkLearningRate(name: string, value: unknown): LearningRate {
  if (value instanceof LearningRateSchedule || typeof value === 'function') return value as LearningRate;
  return checkNumber(name, value, { min: 0 });
}

function serializeLearningRate(lr: LearningRate): ConfigValue {
  if (typeof lr === 'number') return lr;
  if (lr instanceof LearningRateSchedule) return { className: lr.getClassName(), config: lr.getConfig() };
  throw new TypeError('getConfig: a function learning rate cannot be serialized; use a LearningRateSchedule subclass');
}
