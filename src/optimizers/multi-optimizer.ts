// MultiOptimizer (Keras 3.15, keras/src/optimizers/multi_optimizer.py): each variable goes to the
// optimizer an OptimizerMap (or a router function) gives for it, decided the first time the variable
// is seen; one applyGradients is one step of every inner optimizer that received gradients.
//
// Atomicity across inner optimizers: inner k's step is started from inside inner k-1's, at the point
// where k-1 has checked and allocated everything and written nothing (its staged listener). So every
// inner optimizer has validated its pairs, read its schedules and built its slots before any of
// them writes; an error anywhere unwinds through all of them, each rolling back its own part.
import { AliasIndex, Journal, newRecord, type VarRecord } from '../gradients.js';
import { bindHeap, learningRateOwner, plateauOf, restoreByName, setRawIterations, setSkipCount, setStagedListener, skipCount } from '../base/internal.js';
import { type Gradient, type GradientVariablePair, type LearningRate, Optimizer, type OptimizerState } from '../optimizer.js';
import { checkOptionNames } from '../options.js';
import { type Config, isSerializedObject, registerClass } from '../registry.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { SparseInput, type SparseGradient, type SparseScratch } from '../sparse.js';
import { snapshotState, type StateEntries } from '../state-input.js';
import { isFloat32Array, typedBuffer, typedByteOffset, typedLength } from '../typed.js';
import { checkOptions, describeValue } from '../validate.js';
import { Variable } from '../variable.js';
import { checkRoutable, NOT_NESTABLE, OptimizerMap } from './optimizer-map.js';
import { INNER_STATE_PREFIX } from './wrapper.js';

/** Picks the optimizer of a variable (called once per variable, the first time it is seen). */
export type OptimizerRouter = (variable: Variable) => Optimizer;

export interface MultiOptimizerOptions {
  /**
   * Gradients are divided by it before they are routed (the loss was multiplied by it). As in Keras
   * it overrides the inner optimizers' own: theirs is set to null.
   */
  lossScaleFactor?: number | null;
  /**
   * Clip all gradients of a step together to this global L2 norm, before they are routed: the norm
   * of every gradient of every inner optimizer, as one optimizer with globalClipnorm would compute it.
   */
  globalClipnorm?: number | null;
  name?: string;
}

/** Base-class options that act per inner optimizer: they go there. */
const INNER_OPTIONS = ['learningRate', 'weightDecay', 'clipnorm', 'clipvalue', 'useEma', 'emaMomentum', 'emaOverwriteFrequency', 'gradientAccumulationSteps', 'skipNonFinite'];
const OWN_OPTIONS = ['lossScaleFactor', 'globalClipnorm', 'name'];

/** In the state, an inner optimizer's own entries (not a variable's slot) are named `optimizer_<k>:<name>`. */
const PREFIX = /^optimizer_(0|[1-9]\d*):(.*)$/s;
const ITERATIONS = 'iterations';
const TWO24 = 2 ** 24;

/** Optimizers routed to by some MultiOptimizer: one staged listener each, so one MultiOptimizer. */
const owners = new WeakMap<Optimizer, MultiOptimizer>();

/** The optimizer and every one it drives (a wrapper's `inner`, down the chain). */
function chainOf(o: Optimizer): Optimizer[] {
  const out: Optimizer[] = [];
  for (let x: unknown = o; x instanceof Optimizer && !out.includes(x); x = (x as { inner?: unknown }).inner) out.push(x);
  return out;
}

/** Where each optimizer of `opt`'s chain stands, to roll back what a refused call registered. */
function marksOf(opt: Optimizer): (readonly [number, number])[] {
  return chainOf(opt).map((c) => c['registrationMark']());
}

function rollbackTo(opt: Optimizer, marks: readonly (readonly [number, number])[]): void {
  const chain = chainOf(opt);
  for (let c = chain.length - 1; c >= 0; c--) chain[c]['rollbackRegistration'](marks[c]);
}

/** The variable name a slot entry (`<variable>/<slot>`, maybe behind INNER_STATE_PREFIXes) belongs to, or ''. */
function ownerName(entry: string): string {
  const name = bare(entry);
  const slash = name.lastIndexOf('/');
  return slash > 0 ? name.slice(0, slash) : '';
}

/** A state entry's name without a wrapper's INNER_STATE_PREFIXes. */
function bare(name: string): string {
  let p = 0;
  while (name.startsWith(INNER_STATE_PREFIX, p)) p += INNER_STATE_PREFIX.length;
  return name.slice(p);
}

/** One pair of the current step, as read once. */
interface Slot {
  pair: [Gradient, Variable | undefined];
  sparse: { indices: Int32Array | readonly number[]; values: Float32Array };
  input: SparseInput;
  /** Where the dense gradient (or the sparse values) lies in the variable's wasm memory, or -1. */
  ptr: number;
  len: number;
  /** The inner optimizer it goes to, and whether this step made a private (copied) gradient. */
  route: number;
  copied: boolean;
}

const EMPTY_INDICES = new Int32Array(0);
const EMPTY_VALUES = new Float32Array(0);
// Stand-ins for input the base check refuses, with the message the original would get.
const NOT_A_PAIR = null as unknown as GradientVariablePair;
const NOT_A_GRADIENT = Object.freeze({}) as unknown as Gradient;

/**
 * Routes each variable to its own optimizer (Keras 3.15's MultiOptimizer): different optimizers or
 * learning rates for parts of a model. Give an OptimizerMap (`new OptimizerMap(default, { 'encoder/.*':
 * sgd })`), a router function `(variable) => optimizer`, or one optimizer (everything goes to it).
 *
 * - A variable's optimizer is decided the first time the variable is seen and kept (renaming it
 *   later changes nothing). A LossScaleOptimizer or MultiOptimizer inside is refused, as in Keras.
 * - One applyGradients is one step of every inner optimizer that received a gradient, atomic across
 *   them: everything is checked and allocated before the first write; on error nothing changed.
 * - Options: `lossScaleFactor` and `globalClipnorm` act on the whole step, before routing (the
 *   norm of all gradients, as a single optimizer's); every other base option (learning rate, decay,
 *   clipnorm, clipvalue, EMA, accumulation, skipNonFinite) belongs on the inner optimizers and is
 *   refused here. `learningRate` cannot be read or set here either (Keras): use `optimizers[i]`.
 * - The MultiOptimizer owns its inner optimizers: dispose() frees them too.
 */
export class MultiOptimizer extends Optimizer {
  static override readonly className: string = 'MultiOptimizer';
  static override readonly optionNames: readonly string[] = [];
  declare readonly [NOT_NESTABLE]: true;
  /** The map given, or null when a router function (or a single optimizer) was given. */
  readonly optimizerMap: OptimizerMap | null;
  private readonly router: OptimizerRouter | null;
  private readonly list: Optimizer[] = [];
  /** The optimizer whose base-class step runs for list[k] (list[k] itself, or a wrapper's innermost). */
  private readonly innermost: Optimizer[] = [];
  private readonly routes = new Map<Variable, number>();
  /** Per routed variable: its private gradient buffers (a step's copies) and its place, for aliasing. */
  private readonly recs = new Map<Variable, VarRecord>();
  private readonly recordList: VarRecord[] = [];
  private readonly aliasIndex = new AliasIndex();
  /** Whether aliasIndex was brought up to date in this step. */
  private aliasFresh = false;
  private routeGeneration = 0;
  private readonly buffers = new Journal();
  private count = 0;
  private exclusions: { variables?: readonly Variable[]; names?: readonly string[] } | null = null;
  // The step's scratch, reused: a steady-state step allocates nothing.
  private readonly snap: GradientVariablePair[] = [];
  private readonly slots: Slot[] = [];
  private readonly groups: [Gradient, Variable][][] = [];
  private readonly groupSlots: number[][] = [];
  private readonly groupLength: number[] = [];
  private readonly activeInners: number[] = [];
  private activeCount = 0;
  private readonly fired: boolean[] = [];
  /** Each stepped optimizer's skip count before its step (a skip is undone if a later one refuses). */
  private readonly skipsBefore: number[] = [];
  private pos = 0;
  private stepping = false;
  private readonly newVars: Variable[] = [];

  constructor(optimizerMap: OptimizerMap | OptimizerRouter | Optimizer, options: MultiOptimizerOptions = {}) {
    const o = checkOptions('MultiOptimizer', options);
    for (const key of INNER_OPTIONS) {
      if (Object.prototype.hasOwnProperty.call(o, key)) {
        throw new TypeError(`MultiOptimizer: ${key} belongs on the inner optimizers (each has its own), not on the MultiOptimizer`);
      }
    }
    checkOptionNames(null, 'MultiOptimizer', o, OWN_OPTIONS);
    super({ lossScaleFactor: o.lossScaleFactor, globalClipnorm: o.globalClipnorm, name: o.name });
    Object.defineProperty(this, NOT_NESTABLE, { value: true });
    const m: unknown = optimizerMap;
    if (m instanceof OptimizerMap) {
      this.optimizerMap = m;
      this.router = null;
    } else if (m instanceof Optimizer) {
      this.optimizerMap = new OptimizerMap(checkRoutable('MultiOptimizer', 'an inner optimizer', m));
      this.router = null;
    } else if (typeof m === 'function') {
      this.optimizerMap = null;
      this.router = m as OptimizerRouter;
    } else {
      throw new TypeError(`MultiOptimizer: optimizerMap must be an Optimizer (it then takes every variable), an OptimizerMap or a function (variable) => optimizer, got ${describeValue(m)}`);
    }
    // Keras adopts the map's optimizers now (values in order, then the default); checked first,
    // adopted after, so a refused construction leaves the inner optimizers as they were.
    const initial = this.optimizerMap ? this.optimizerMap.optimizers : [];
    const seen: Optimizer[] = [];
    for (const opt of initial) {
      this.checkAdoptable(opt, 'MultiOptimizer', seen);
      seen.push(...chainOf(opt));
    }
    for (const opt of initial) this.adopt(opt);
  }

  // ---------------------------------------------------------------- public API

  /** The inner optimizers: the map's (in the order their keys were set, then the default if no key maps to it), then any found by routing. */
  get optimizers(): readonly Optimizer[] {
    return [...this.list];
  }

  /** applyGradients calls that stepped (as Keras' `iterations` of a MultiOptimizer). */
  override get iterations(): number {
    return this.count;
  }

  override get nonFiniteSkips(): number {
    let n = 0;
    for (const o of this.list) n += o.nonFiniteSkips;
    return n;
  }

  /** Refused, as in Keras: each inner optimizer has its own (`optimizers[i].learningRate`). */
  override get learningRate(): number {
    throw new TypeError('MultiOptimizer: learningRate cannot be read on a MultiOptimizer (each inner optimizer has its own); use optimizers[i].learningRate');
  }

  override set learningRate(value: LearningRate) {
    void value;
    throw new TypeError('MultiOptimizer: learningRate cannot be set on a MultiOptimizer (each inner optimizer has its own); set optimizers[i].learningRate');
  }

  override get learningRateSchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return null;
  }

  /**
   * The optimizer `variable` goes to (routing it now, and keeping that, if it was not seen yet). A
   * variable two keys match, or a router that returns no optimizer, throws.
   */
  optimizerFor(variable: Variable): Optimizer {
    this.checkAlive('optimizerFor');
    if (!(variable instanceof Variable)) throw new TypeError(`MultiOptimizer.optimizerFor: expected a Variable, got ${describeValue(variable)}`);
    const k = this.routes.get(variable);
    if (k !== undefined) return this.list[k];
    const n = this.list.length;
    try {
      const r = this.routeNew(variable);
      this.newVars.length = 0;
      return this.list[r];
    } catch (e) {
      this.rollbackRoutes(n);
      throw e;
    }
  }

  override getSlot(variable: Variable, name: string): Variable {
    const k = this.routes.get(variable);
    if (k === undefined) throw new Error(`MultiOptimizer: no slot '${name}' for variable '${variable?.name}' (no step or prepare() has seen it)`);
    return this.list[k].getSlot(variable, name);
  }

  /** Every inner optimizer's state variables, in the order of `optimizers`. */
  override get variables(): readonly Variable[] {
    const out: Variable[] = [];
    for (const o of this.list) out.push(...o.variables);
    return out;
  }

  override get pendingState(): readonly string[] {
    const out: string[] = [];
    const owned = this.variableNames();
    this.list.forEach((o, k) => {
      for (const name of o.pendingState) out.push(owned[k].has(ownerName(name)) ? name : `optimizer_${k}:${name}`);
    });
    return out;
  }

  /** Forwarded to every inner optimizer (and to those routing finds later). */
  override excludeFromWeightDecay(options: { variables?: readonly Variable[]; names?: readonly string[] }): void {
    this.checkAlive('excludeFromWeightDecay');
    super.excludeFromWeightDecay(options); // checks the options (and keeps a copy nobody reads)
    const { variables, names } = options; // valid: read once more, copied
    const copy = { variables: [...(variables ?? [])], names: [...(names ?? [])] };
    for (const o of this.list) o.excludeFromWeightDecay(copy);
    this.exclusions = copy;
  }

  /** Routes `variables` and builds their slots in their optimizers, as the first step would. */
  override prepare(variables: readonly Variable[]): void {
    this.checkAlive('prepare');
    this.checkNotStepping('prepare');
    const vars = this.checkVariableList('prepare', variables);
    const n = this.list.length;
    try {
      for (const v of vars) if (!this.routes.has(v)) this.routeNew(v);
    } catch (e) {
      this.rollbackRoutes(n);
      throw e;
    }
    // An inner optimizer that refuses rolls back itself; the ones prepared before it are rolled back here.
    const done: [Optimizer, (readonly [number, number])[]][] = [];
    try {
      this.list.forEach((o, k) => {
        const group = vars.filter((v) => this.routes.get(v) === k);
        if (group.length === 0) return;
        done.push([o, marksOf(o)]);
        o.prepare(group);
      });
    } catch (e) {
      for (let j = done.length - 1; j >= 0; j--) rollbackTo(done[j][0], done[j][1]);
      this.rollbackRoutes(n);
      throw e;
    }
    this.newVars.length = 0;
  }

  override finalizeVariableValues(variables?: readonly Variable[]): void {
    this.checkAlive('finalizeVariableValues');
    if (variables === undefined) {
      for (const o of this.list) o.finalizeVariableValues();
      return;
    }
    const vars = this.checkVariableList('finalizeVariableValues', variables);
    this.list.forEach((o, k) => {
      const group = vars.filter((v) => this.routes.get(v) === k);
      if (group.length) o.finalizeVariableValues(group);
    });
  }

  override updateStep(): void {
    throw new Error('MultiOptimizer.updateStep: a MultiOptimizer updates through its inner optimizers; call applyGradients');
  }

  /**
   * One step: the pairs are read once and checked, each variable is routed (new ones now), the
   * gradients are unscaled and clipped together when lossScaleFactor or globalClipnorm is set, and
   * every inner optimizer with a gradient takes one step, all or none. Returns `iterations`.
   */
  override applyGradients(pairs: readonly GradientVariablePair[]): number {
    this.checkAlive('applyGradients');
    this.checkNotStepping('applyGradients');
    this.stepping = true;
    const optimizers = this.list.length;
    for (let p = 0; p < this.activeCount; p++) this.skipsBefore[p] = -1; // the last step's
    try {
      const snap = this.snapshot(pairs);
      super.validateGradients(snap); // the base class's checks and messages, pair indices as given
      this.releaseRoutes();
      const count = snap.length;
      let routed = false;
      for (let i = 0; i < count; i++) {
        const v = snap[i][1];
        let k = this.routes.get(v);
        if (k === undefined) {
          k = this.routeNew(v); // user code (a router): runs before anything is read from the gradients
          routed = true;
        }
        this.slots[i].route = k;
      }
      if (routed) super.validateGradients(snap); // a router may have changed what was checked
      this.readPlaces(count);
      this.group(count);
      for (let p = 0; p < this.activeCount; p++) this.skipsBefore[p] = -1;
      this.stage(count);
      this.chainFrom(0);
    } catch (e) {
      // An inner optimizer that skipped its part (non-finite gradients) before a later one refused.
      for (let p = 0; p < this.activeCount; p++) {
        if (this.skipsBefore[p] >= 0) setSkipCount(this.innermost[this.activeInners[p]], this.skipsBefore[p]);
      }
      this.buffers.rollback();
      this.rollbackRoutes(optimizers);
      throw e;
    } finally {
      this.release();
      this.stepping = false;
    }
    this.buffers.commit();
    this.newVars.length = 0;
    if (this.recordList.length > 0) bindHeap(this, this.recordList[0].variable.heap);
    return ++this.count;
  }

  // ---------------------------------------------------------------- config and state

  /** `{ name, lossScaleFactor, globalClipnorm, optimizerMap }`; a router function is not serializable. */
  override getConfig(): Config {
    if (this.optimizerMap === null) {
      throw new TypeError('MultiOptimizer.getConfig: a router function cannot be serialized (nor saved in a checkpoint or a tfjs model); use an OptimizerMap');
    }
    return {
      name: this.name,
      lossScaleFactor: this.lossScaleFactor,
      globalClipnorm: this.globalClipnorm,
      optimizerMap: { className: OptimizerMap.className, config: this.optimizerMap.getConfig() },
    };
  }

  static override fromConfig<T extends Optimizer>(this: new (options: never) => T, config: Config): T {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new TypeError('MultiOptimizer.fromConfig: config must be an object');
    const { optimizerMap, ...options } = config;
    if (!isSerializedObject(optimizerMap) || optimizerMap.className !== OptimizerMap.className) {
      throw new TypeError(`MultiOptimizer.fromConfig: config.optimizerMap must be { className: 'OptimizerMap', config }, got ${describeValue(optimizerMap)}`);
    }
    const map = OptimizerMap.fromConfig(optimizerMap.config);
    const Multi = this as unknown as new (map: OptimizerMap, options: Config) => T;
    return new Multi(map, options);
  }

  /**
   * Every inner optimizer's state: a variable's slots under their own names (`<variable>/<slot>`,
   * variables are routed to one optimizer each), an inner optimizer's own variables and its call
   * counter under `optimizer_<k>:` (k its index in `optimizers`). `iterations` is the
   * MultiOptimizer's.
   */
  override getState(): OptimizerState {
    this.checkAlive('getState');
    const variables: OptimizerState['variables'] = {};
    const owned = this.variableNames();
    this.list.forEach((o, k) => {
      if (plateauOf(learningRateOwner(o))) {
        throw new Error(`MultiOptimizer.getState: optimizers[${k}] (${o.getClassName()}) has a ReduceLROnPlateau attached; a MultiOptimizer's state cannot hold its progress`);
      }
      const s = o.getState();
      const hi = Math.floor(s.iterations / TWO24);
      variables[`optimizer_${k}:${ITERATIONS}`] = { shape: [2], values: new Float32Array([hi, s.iterations - hi * TWO24]) };
      for (const key of Object.keys(s.variables)) {
        const name = owned[k].has(ownerName(key)) ? key : `optimizer_${k}:${key}`;
        if (Object.prototype.hasOwnProperty.call(variables, name)) {
          throw new Error(`MultiOptimizer.getState: two optimizer variables are named '${name}': give the model variables unique names`);
        }
        variables[name] = s.variables[key];
      }
    });
    return { className: this.getClassName(), iterations: this.count, variables };
  }

  /**
   * Restores `getState()` output: each entry goes to the inner optimizer of its variable (routed by
   * name when the variable was not seen yet, which needs an OptimizerMap, or pass `variables`).
   */
  override setState(state: OptimizerState, variables?: readonly Variable[]): void {
    this.checkAlive('setState');
    this.checkNotStepping('setState');
    const where = 'MultiOptimizer.setState';
    const snap = snapshotState(state, where, this.getClassName());
    if (snap.plateau) throw new Error(`${where}: a MultiOptimizer has no learning rate of its own, so no ReduceLROnPlateau progress; the state has one`);
    const vars = variables === undefined ? [] : this.checkVariableList('setState', variables);
    const n = this.list.length;
    let parts: { iterations: number | null; entries: StateEntries }[];
    try {
      for (const v of vars) if (!this.routes.has(v)) this.routeNew(v);
      parts = this.partition(snap.entries, where, true);
    } catch (e) {
      this.rollbackRoutes(n);
      throw e;
    }
    this.newVars.length = 0;
    // Each inner optimizer checks its part as its own setState does; if one refuses, the ones
    // restored before it get their previous state back.
    const before: OptimizerState[] = [];
    const marks: (readonly [number, number])[][] = [];
    let k = 0;
    try {
      for (; k < this.list.length; k++) {
        const o = this.list[k];
        before.push(o.getState());
        marks.push(marksOf(o));
        const part = parts[k];
        const own: OptimizerState['variables'] = {};
        for (const [name, e] of part.entries) own[name] = e as OptimizerState['variables'][string];
        const group = vars.filter((v) => this.routes.get(v) === k);
        o.setState({ className: o.getClassName(), iterations: part.iterations ?? 0, variables: own }, group.length ? group : undefined);
      }
    } catch (e) {
      for (let j = Math.min(k, marks.length - 1); j >= 0; j--) {
        rollbackTo(this.list[j], marks[j]);
        try {
          this.list[j].setState(before[j]);
        } catch {
          // its registrations are rolled back; values it cannot take back stay as restored
        }
      }
      throw e;
    }
    this.count = snap.iterations;
  }

  /** The tfjs entry's restore by name (setWeights): entries routed as in setState. */
  protected override restoreEntries(entries: StateEntries): void {
    const parts = this.partition(entries, 'MultiOptimizer.setState', false);
    parts.forEach((p, k) => {
      if (p.iterations !== null) setRawIterations(learningRateOwner(this.list[k]), p.iterations);
      if (p.entries.size) restoreByName(this.list[k], p.entries);
    });
  }

  override dispose(): void {
    if (this.disposed) return;
    this.checkNotStepping('dispose');
    for (let k = 0; k < this.list.length; k++) {
      setStagedListener(this.innermost[k], null);
      owners.delete(this.list[k]);
      this.list[k].dispose();
    }
    for (const rec of this.recordList) this.freeRecord(rec);
    this.recordList.length = 0;
    this.recs.clear();
    this.routes.clear();
    super.dispose();
  }

  // ---------------------------------------------------------------- routing

  /** Routes a variable seen for the first time (kept only if the step or call succeeds). */
  private routeNew(v: Variable): number {
    let opt: unknown;
    if (this.optimizerMap) opt = this.optimizerMap.get(v.name);
    else {
      opt = (this.router as OptimizerRouter)(v);
      if (!(opt instanceof Optimizer)) {
        throw new TypeError(`MultiOptimizer: the router returned ${describeValue(opt)} for variable '${v.name}'; expected an Optimizer`);
      }
    }
    let k = this.list.indexOf(opt as Optimizer);
    if (k < 0) {
      const seen: Optimizer[] = [];
      for (const o of this.list) seen.push(...chainOf(o));
      this.checkAdoptable(opt, `MultiOptimizer: for variable '${v.name}'`, seen);
      k = this.adopt(opt as Optimizer);
    }
    this.routes.set(v, k);
    const rec = newRecord(v, false);
    this.recs.set(v, rec);
    this.recordList.push(rec);
    this.newVars.push(v);
    this.routeGeneration++;
    return k;
  }

  /** Undoes the routes and adoptions made since the counts given (a refused step or call). */
  private rollbackRoutes(optimizers: number): void {
    const records = this.recordList.length - this.newVars.length; // new routes' records come last
    for (const v of this.newVars) {
      this.routes.delete(v);
      this.recs.delete(v);
    }
    for (const rec of this.recordList.splice(records)) this.freeRecord(rec);
    this.newVars.length = 0;
    for (let k = this.list.length - 1; k >= optimizers; k--) {
      setStagedListener(this.innermost[k], null);
      owners.delete(this.list[k]);
    }
    this.list.length = optimizers;
    this.innermost.length = optimizers;
    this.routeGeneration++;
  }

  private checkAdoptable(opt: unknown, where: string, seen: readonly Optimizer[]): void {
    const what = where === 'MultiOptimizer' ? 'an inner optimizer' : 'the optimizer';
    const o = checkRoutable(where, what, opt);
    for (const c of chainOf(o)) {
      if (c !== o) checkRoutable(where, `the optimizer inside ${o.getClassName()}`, c);
      const owner = owners.get(c);
      if (owner !== undefined && owner !== this) throw new Error(`${where}: ${c.getClassName()} '${c.name}' is already an inner optimizer of another MultiOptimizer`);
      if (seen.includes(c)) throw new Error(`${where}: ${c.getClassName()} '${c.name}' would run twice in a step (it is also inside another inner optimizer)`);
      if (this.globalClipnorm !== null && c.gradientAccumulationSteps !== null) {
        throw new Error(`${where}: ${c.getClassName()} '${c.name}' accumulates gradients (gradientAccumulationSteps), but the MultiOptimizer's globalClipnorm clips each call's gradients, not the accumulated mean a single optimizer clips; clip in the inner optimizers instead`);
      }
    }
  }

  /** Takes `opt` as an inner optimizer: its loss scale is the MultiOptimizer's business now (Keras). */
  private adopt(opt: Optimizer): number {
    const k = this.list.length;
    for (const c of chainOf(opt)) (c as { lossScaleFactor: number | null }).lossScaleFactor = null;
    if (this.exclusions) opt.excludeFromWeightDecay(this.exclusions);
    const inner = learningRateOwner(opt);
    this.list.push(opt);
    this.innermost.push(inner);
    this.groups.push([]);
    this.groupSlots.push([]);
    this.groupLength.push(0);
    owners.set(opt, this);
    setStagedListener(inner, () => this.onStaged(inner));
    return k;
  }

  /** Forgets variables the caller disposed (their inner optimizers free their slots themselves). */
  private releaseRoutes(): void {
    let dead = 0;
    for (let i = 0; i < this.recordList.length; i++) if (this.recordList[i].variable.disposed) dead++;
    if (dead === 0) return;
    const keep = this.recordList.filter((r) => !r.variable.disposed);
    for (const rec of this.recordList) {
      if (!rec.variable.disposed) continue;
      this.routes.delete(rec.variable);
      this.recs.delete(rec.variable);
      this.freeRecord(rec);
    }
    this.recordList.splice(0, this.recordList.length, ...keep);
    this.routeGeneration++;
  }

  private freeRecord(rec: VarRecord): void {
    rec.grad?.dispose();
    rec.grad = null;
    rec.sparse?.dispose();
    rec.sparse = null;
  }

  // ---------------------------------------------------------------- the step

  /** Reads the caller's pairs once (as LossScaleOptimizer does): only this copy is checked and used. */
  private snapshot(pairs: readonly GradientVariablePair[]): readonly GradientVariablePair[] {
    if (!Array.isArray(pairs)) return pairs; // refused as is by the check
    const count = pairs.length;
    const snap = this.snap;
    if (snap.length !== count) snap.length = count;
    for (let i = 0; i < count; i++) {
      const s = (this.slots[i] ??= {
        pair: [null, undefined], sparse: { indices: EMPTY_INDICES, values: EMPTY_VALUES }, input: new SparseInput(), ptr: -1, len: 0, route: -1, copied: false,
      });
      const pair: unknown = pairs[i];
      if (!Array.isArray(pair) || pair.length !== 2) {
        snap[i] = NOT_A_PAIR;
        continue;
      }
      const g: unknown = pair[0];
      s.pair[1] = pair[1] as Variable;
      if (g === null || g === undefined || isFloat32Array(g) || typeof g !== 'object' || ArrayBuffer.isView(g)) s.pair[0] = g as Gradient;
      else if ('indices' in g && 'values' in g) {
        const { indices, values } = g as SparseGradient; // one read each
        s.sparse.indices = indices;
        s.sparse.values = values;
        s.pair[0] = s.sparse;
      } else s.pair[0] = NOT_A_GRADIENT;
      snap[i] = s.pair as GradientVariablePair;
    }
    return snap;
  }

  /** Drops every reference to the caller's arrays. */
  private release(): void {
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i];
      s.pair[0] = null;
      s.pair[1] = undefined;
      s.sparse.indices = EMPTY_INDICES;
      s.sparse.values = EMPTY_VALUES;
      s.input.release();
    }
    for (let k = 0; k < this.groups.length; k++) {
      const g = this.groups[k];
      for (let j = 0; j < this.groupLength[k]; j++) g[j][0] = null;
    }
  }

  /** Where each checked gradient lies (before anything is allocated: growth detaches views). */
  private readPlaces(count: number): void {
    for (let i = 0; i < count; i++) {
      const s = this.slots[i];
      const g = s.pair[0];
      const v = s.pair[1] as Variable;
      s.copied = false;
      if (g === null || g === undefined) continue;
      const values = isFloat32Array(g) ? g : g.values;
      s.len = typedLength(values);
      s.ptr = typedBuffer(values) === v.heap.memory.buffer ? typedByteOffset(values) : -1;
    }
  }

  /** Sorts the pairs with a gradient into one list per inner optimizer, in pair order. */
  private group(count: number): void {
    for (let k = 0; k < this.list.length; k++) this.groupLength[k] = 0;
    for (let i = 0; i < count; i++) {
      const s = this.slots[i];
      if (s.pair[0] === null || s.pair[0] === undefined) continue;
      const k = s.route;
      const j = this.groupLength[k]++;
      (this.groupSlots[k][j] = i);
      const g = this.groups[k];
      if (g.length <= j) g.push([null, s.pair[1] as Variable]);
    }
    let a = 0;
    for (let k = 0; k < this.list.length; k++) {
      const g = this.groups[k];
      if (g.length !== this.groupLength[k]) g.length = this.groupLength[k];
      if (this.groupLength[k] > 0) this.activeInners[a++] = k;
    }
    this.activeCount = a;
  }

  /**
   * Puts gradients where the inner optimizers may read them: with a loss scale or global clipping,
   * into private buffers (unscaled, clipped: exactly the base class's kernels in its order); else a
   * dense gradient in wasm memory that overlaps a routed variable is copied (inner optimizers write
   * one after another, and a gradient must read as it was when the step began).
   */
  private stage(count: number): void {
    const transform = this.lossScaleFactor !== null || this.globalClipnorm !== null;
    this.aliasFresh = false;
    // Allocate first (journaled), then write only private memory.
    for (let i = 0; i < count; i++) {
      const s = this.slots[i];
      const g = s.pair[0];
      if (g === null || g === undefined) continue;
      const v = s.pair[1] as Variable;
      const rec = this.recs.get(v) as VarRecord;
      if (isFloat32Array(g)) {
        if (transform || (s.ptr >= 0 && this.aliased(s.ptr, s.len))) {
          this.buffers.gradOf(rec);
          s.copied = true;
        }
      } else if (transform) {
        s.input.read(g, v, 'MultiOptimizer.applyGradients'); // checked already: copies the indices
        this.buffers.sparseOf(rec, s.input.count);
        s.copied = true;
      }
    }
    if (!transform) {
      for (let i = 0; i < count; i++) {
        const s = this.slots[i];
        if (!s.copied) continue;
        const v = s.pair[1] as Variable;
        v.heap.kernels.copy((this.recs.get(v) as VarRecord).grad!.ptr, s.ptr, s.len);
      }
      return;
    }
    const inv = this.lossScaleFactor ? 1 / this.lossScaleFactor : 1;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const s = this.slots[i];
      if (!s.copied) continue;
      const v = s.pair[1] as Variable;
      const rec = this.recs.get(v) as VarRecord;
      const K = v.heap.kernels;
      let ptr: number;
      let len: number;
      if (rec.grad !== null && isFloat32Array(s.pair[0])) {
        const buf = rec.grad;
        if (s.ptr >= 0) K.scaleCopy(buf.ptr, s.ptr, v.size, inv);
        else {
          buf.value.set(s.pair[0]); // the engine's data, as the base class stages it
          if (inv !== 1) K.scaleCopy(buf.ptr, buf.ptr, v.size, inv);
        }
        ptr = buf.ptr;
        len = v.size;
      } else {
        const sc = rec.sparse as SparseScratch;
        sc.stage(s.input, v.size / v.shape[0]);
        sc.dedup();
        if (inv !== 1) K.scaleCopy(sc.valuesPtr, sc.valuesPtr, sc.valuesLength, inv);
        ptr = sc.valuesPtr;
        len = sc.valuesLength;
      }
      if (this.globalClipnorm !== null) total += K.sumSquares(ptr, len);
    }
    if (this.globalClipnorm === null) return;
    const norm = Math.sqrt(total);
    if (norm <= this.globalClipnorm) return;
    const factor = Number.isFinite(norm) ? this.globalClipnorm / norm : NaN; // NaN/inf: every gradient NaN, as in Keras
    for (let i = 0; i < count; i++) {
      const s = this.slots[i];
      if (!s.copied) continue;
      const v = s.pair[1] as Variable;
      const rec = this.recs.get(v) as VarRecord;
      const K = v.heap.kernels;
      if (rec.grad !== null && isFloat32Array(s.pair[0])) K.scaleCopy(rec.grad.ptr, rec.grad.ptr, v.size, factor);
      else {
        const sc = rec.sparse as SparseScratch;
        K.scaleCopy(sc.valuesPtr, sc.valuesPtr, sc.valuesLength, factor);
      }
    }
  }

  /** True when `len` floats at `ptr` overlap a routed variable (this step's new ones included). */
  private aliased(ptr: number, len: number): boolean {
    if (!this.aliasFresh) {
      this.aliasIndex.refresh(this.routeGeneration, this.recordList);
      this.aliasFresh = true;
    }
    return this.aliasIndex.overlaps(ptr, len);
  }

  /** Runs inner optimizer active[p]'s step; the rest start from inside it (see onStaged). */
  private chainFrom(p: number): void {
    if (p === this.activeCount) return;
    const k = this.activeInners[p];
    this.pos = p;
    this.fired[p] = false;
    this.skipsBefore[p] = skipCount(this.innermost[k]);
    this.fill(k);
    this.list[k].applyGradients(this.groups[k]);
    // Not fired: that optimizer skipped its step (non-finite gradients, skipNonFinite) before its
    // staging ended; the others still take theirs.
    if (!this.fired[p]) this.chainFrom(p + 1);
  }

  /** Inner optimizer `inner` has checked and allocated everything and written nothing: next one. */
  private onStaged(inner: Optimizer): void {
    if (!this.stepping) return; // the optimizer stepped on its own, outside this MultiOptimizer
    const p = this.pos;
    if (p >= this.activeCount || this.fired[p] || this.innermost[this.activeInners[p]] !== inner) return;
    this.fired[p] = true;
    this.chainFrom(p + 1);
  }

  /** The gradients of inner optimizer k's pairs, as views made now (an earlier step may have grown memory). */
  private fill(k: number): void {
    const group = this.groups[k];
    const idx = this.groupSlots[k];
    for (let j = 0; j < this.groupLength[k]; j++) {
      const s = this.slots[idx[j]];
      const v = s.pair[1] as Variable;
      const pair = group[j];
      pair[1] = v;
      const g = s.pair[0] as Float32Array | SparseGradient;
      if (s.copied) {
        const rec = this.recs.get(v) as VarRecord;
        pair[0] = isFloat32Array(g) ? (rec.grad as Variable).value : (rec.sparse as SparseScratch).result();
        continue;
      }
      const mem = v.heap.memory.buffer;
      if (isFloat32Array(g)) {
        pair[0] = s.ptr >= 0 && typedBuffer(g) !== mem ? new Float32Array(mem, s.ptr, s.len) : g;
      } else {
        if (s.ptr >= 0 && typedBuffer(g.values) !== mem) g.values = new Float32Array(mem, s.ptr, s.len);
        pair[0] = g;
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Splits state entries among the inner optimizers (routing the variables they belong to). */
  private partition(entries: StateEntries, where: string, strict: boolean): { iterations: number | null; entries: StateEntries }[] {
    const parts = this.list.map(() => ({ iterations: null as number | null, entries: new Map() as StateEntries }));
    for (const [name, e] of entries) {
      const m = PREFIX.exec(name);
      if (m) {
        const k = Number(m[1]);
        if (k >= this.list.length) throw new Error(`${where}: the state has '${name}', which this optimizer does not have (it has ${this.list.length} inner optimizers)`);
        if (m[2] === ITERATIONS) {
          const [hi, lo] = e.values;
          if (e.values.length !== 2 || !Number.isInteger(hi) || !Number.isInteger(lo) || hi < 0 || lo < 0 || lo >= TWO24) {
            throw new Error(`${where}: '${name}' must hold the call counter as 2 non-negative integers (high, low 24 bits)`);
          }
          parts[k].iterations = hi * TWO24 + lo;
        } else parts[k].entries.set(m[2], e);
        continue;
      }
      const owner = ownerName(name);
      if (owner === '') throw new Error(`${where}: the state has '${name}', which this optimizer does not have`);
      parts[this.routeByName(owner, name, where)].entries.set(name, e);
    }
    if (strict) {
      parts.forEach((p, k) => {
        if (p.iterations === null && (p.entries.size > 0 || this.list[k].variables.length > 0)) {
          throw new Error(`${where}: the state lacks 'optimizer_${k}:${ITERATIONS}'`);
        }
      });
    }
    return parts;
  }

  /** The inner optimizer of the variable named `name`: its route, or the map's choice for the name. */
  private routeByName(name: string, entry: string, where: string): number {
    for (const [v, k] of this.routes) if (v.name === name) return k;
    if (this.optimizerMap) {
      const k = this.list.indexOf(this.optimizerMap.get(name));
      if (k >= 0) return k;
    }
    throw new Error(`${where}: cannot tell which inner optimizer '${entry}' belongs to: variable '${name}' was not seen yet; pass the variables (setState(state, variables) or loadState(bytes, variables))`);
  }

  /** The names of the variables routed to each inner optimizer. */
  private variableNames(): Set<string>[] {
    const out = this.list.map(() => new Set<string>());
    for (const [v, k] of this.routes) if (!v.disposed) out[k].add(v.name);
    return out;
  }

  private checkNotStepping(what: string): void {
    if (this.stepping) {
      throw new Error(`MultiOptimizer.${what}: called from inside applyGradients (a router, learning-rate schedule, build() or updateStep hook); call it after the step returns`);
    }
  }

  private checkVariableList(what: string, variables: unknown): Variable[] {
    if (!Array.isArray(variables)) throw new TypeError(`MultiOptimizer.${what}: variables must be an array of Variables`);
    const vars = [...(variables as unknown[])];
    vars.forEach((v, i) => {
      if (!(v instanceof Variable)) throw new TypeError(`MultiOptimizer.${what}: variables[${i}] must be a Variable`);
      if (v.disposed) throw new Error(`MultiOptimizer.${what}: variables[${i}]: variable '${v.name}' was disposed`);
    });
    return (vars as Variable[]).filter((v, i) => vars.indexOf(v) === i);
  }
}
registerClass(MultiOptimizer);
