// The base optimizer's private state, kept out of the class a subclass author reads, and the
// learning-rate bookkeeping. The machinery (step.ts, registration.ts, save-restore.ts) works on a
// Core; BaseOptimizer owns one and delegates. Internal: not exported from the package.
import { type Heap } from '../arena.js';
import { AliasIndex, Journal, StepInput, type VarRecord } from '../gradients.js';
import { checkScheduled, Hyperparameter, type ScheduledOption } from '../hyperparameter.js';
import { checkOptionNames } from '../options.js';
import { type UniqueSparseGradient } from '../sparse.js';
import { type PlateauState, type StateEntries } from '../state-input.js';
import { checkBoolean, checkNumber, checkOptions, optionalNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { PipeViews } from './pipeline.js';
import { type LearningRate, type OptimizerOptions } from './types.js';

/** What the machinery reads and calls on the optimizer: its options and public hooks. */
export interface Host {
  readonly clipnorm: number | null;
  readonly clipvalue: number | null;
  readonly globalClipnorm: number | null;
  readonly useEma: boolean;
  readonly emaMomentum: number;
  readonly emaOverwriteFrequency: number | null;
  readonly lossScaleFactor: number | null;
  readonly gradientAccumulationSteps: number | null;
  readonly skipNonFinite: boolean;
  readonly iterations: number;
  getClassName(): string;
  build(variables: readonly Variable[]): void;
  updateStep(gradient: Float32Array, variable: Variable, learningRate: number): void;
  updateStepSparse(gradient: UniqueSparseGradient, variable: Variable, learningRate: number): void;
  beforeUpdateSteps(learningRate: number): void;
  afterUpdateSteps(learningRate: number): void;
}

/** The protected methods a subclass may override, bound once (so the machinery dispatches to them). */
export interface Overridable {
  sparseNeedsDenseBuffer(variable: Variable): boolean;
  releaseDisposed(): void;
  restoreEntries(entries: StateEntries): void;
  /** Sets Optimizer.pipeline: the record's address for the fused updateStep that follows, or 0. */
  setPipeline(at: number): void;
}

export class Core {
  lr: LearningRate = 0.001;
  /**
   * The step's rate when it is a constant (times any plateau factor), rounded: no work per step.
   * Starts as null on purpose: V8 then stores the number boxed, and hands out that box each step
   * (a field first given a double is kept unboxed, and boxed anew at every read that returns it).
   */
  lrFixed: number | null = null;
  /**
   * The rate this step hands to updateStep: lrFixed's box, or (a schedule) one number boxed per
   * step; null-initialized like lrFixed so every variable's call shares that one box.
   */
  lrStep: number | null = null;
  /** A ReduceLROnPlateau's state, or null (see plateauOf). */
  plateau: PlateauState | null = null;
  wd: LearningRate | null = null;
  readonly lrValue = new Hyperparameter();
  /** Options of the subclass that may follow a schedule, resolved at the start of each step. */
  readonly scheduledOptions: ScheduledOption[] = []; // only the ones that follow a schedule
  readonly wdValue = new Hyperparameter();
  rawIterations = 0;
  heap: Heap | null = null;
  readonly records = new Map<Variable, VarRecord>();
  readonly all: VarRecord[] = [];
  /** State variables (slots, EMA averages, accumulators, optimizer-level) in creation order. */
  readonly own: Variable[] = [];
  readonly excludedVars = new Set<Variable>();
  excludedNames: RegExp | null = null;
  isDisposed = false;
  skips = 0;
  /** The public method running now (user code it calls must not re-enter), or null. */
  busy: string | null = null;
  /** Whether any variable was ever registered (a deferred restore is for fresh optimizers only). */
  everBuilt = false;
  /** State restored before its variables existed: applied when each is created (by name). */
  pending: StateEntries | null = null;
  /** State variables created from `pending` (a build() must not re-initialize them). */
  readonly restored = new Set<Variable>();
  // Reused each step so the steady-state step allocates nothing.
  readonly active: VarRecord[] = [];
  readonly activeVars: Variable[] = [];
  /** Every pair's variable, as read once by collect (duplicates are refused). */
  readonly pairVars: Variable[] = [];
  readonly inputs: StepInput[] = [];
  /** Whether each active variable is built by this step. */
  readonly isNew: boolean[] = [];
  readonly journal = new Journal();
  readonly aliases = new AliasIndex();
  /** Changes whenever variables are registered or released (the alias index follows it). */
  generation = 0;
  /** Whether updateStep takes the fused pipeline (./pipeline.ts), decided once per class. */
  fuses = false;
  /** [0]: the next step's gradient divisor (a LossScaleOptimizer's scale), else 1 (a typed array: see ./pipeline.ts). */
  readonly divisor = new Float64Array([1]);
  readonly pipeViews = new PipeViews();
  /** Per active variable: its clipnorm factor (1 when not clipped). */
  readonly clipFactors: number[] = [];
  /** Made once: a sparse step hands it to SparseInput.read, which a deep call chain may not inline. */
  private whereText: string | null = null;

  /** The optimizer (set once by bind, in Optimizer's constructor). */
  host!: Host;
  overridable!: Overridable;

  bind(host: Host, overridable: Overridable): void {
    this.host = host;
    this.overridable = overridable;
  }

  where(): string {
    return (this.whereText ??= `${this.host.getClassName()}.applyGradients`);
  }
}

/** The base-class option names (Keras 3's, camelCase). */
const BASE_OPTIONS: readonly string[] = [
  'learningRate', 'weightDecay', 'clipnorm', 'clipvalue', 'globalClipnorm', 'useEma', 'emaMomentum',
  'emaOverwriteFrequency', 'lossScaleFactor', 'gradientAccumulationSteps', 'skipNonFinite', 'name',
];

const snake = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** The base options of `cls`'s constructor, checked (unknown names refused), with Keras' defaults. */
export function readBaseOptions(cls: abstract new (...args: never[]) => unknown, name: string, options: OptimizerOptions) {
  const o = checkOptions(name, options);
  checkOptionNames(cls, name, o, BASE_OPTIONS);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) {
    throw new TypeError(`${name}: name must be a non-empty string`);
  }
  const lr = o.learningRate !== undefined ? checkScheduled(`${name}: learningRate`, o.learningRate) : null;
  const wd = o.weightDecay !== undefined && o.weightDecay !== null ? checkScheduled(`${name}: weightDecay`, o.weightDecay) : null;
  const clipnorm = optionalNumber(`${name}: clipnorm`, o.clipnorm, { min: 0, float32: true }) || null;
  const clipvalue = optionalNumber(`${name}: clipvalue`, o.clipvalue, { min: 0, float32: true }) || null;
  const globalClipnorm = optionalNumber(`${name}: globalClipnorm`, o.globalClipnorm, { min: 0 }) || null;
  const clips = [clipnorm, clipvalue, globalClipnorm].filter((c) => c !== null).length;
  if (clips > 1) {
    throw new RangeError(`${name}: set at most one of clipnorm, clipvalue and globalClipnorm (got ${clips})`);
  }
  return {
    name: (o.name as string | undefined) ?? snake(name),
    lr,
    wd,
    clipnorm,
    clipvalue,
    globalClipnorm,
    useEma: o.useEma === undefined ? false : checkBoolean(`${name}: useEma`, o.useEma),
    emaMomentum: checkNumber(`${name}: emaMomentum`, o.emaMomentum ?? 0.99, { min: 0, max: 1, float32: true }),
    emaOverwriteFrequency: optionalNumber(`${name}: emaOverwriteFrequency`, o.emaOverwriteFrequency, { min: 1, integer: true }),
    lossScaleFactor: optionalNumber(`${name}: lossScaleFactor`, o.lossScaleFactor, { min: 0, minExclusive: true, float32: true }),
    gradientAccumulationSteps: optionalNumber(`${name}: gradientAccumulationSteps`, o.gradientAccumulationSteps, { min: 2, integer: true }),
    skipNonFinite: o.skipNonFinite === undefined ? false : checkBoolean(`${name}: skipNonFinite`, o.skipNonFinite),
  };
}

/** Precomputes the rate when it is a constant (a schedule is evaluated each step instead). */
export function fixLearningRate(c: Core): void {
  const scale = c.plateau === null ? 1 : c.plateau.scale;
  const v = typeof c.lr === 'number' ? Math.fround(c.lr * scale) : NaN;
  c.lrFixed = Number.isFinite(v) ? v : null; // not finite: the step reports it
  c.lrValue.scale = scale;
}

/** Installs (or removes) a ReduceLROnPlateau's state; the fixed rate follows its scale. */
export function setPlateauState(c: Core, state: PlateauState | null): void {
  c.plateau = state;
  fixLearningRate(c);
}

export function currentLearningRate(c: Core): number {
  return c.lrFixed ?? c.lrValue.at(c.lr, c.rawIterations, c.host.getClassName(), 'learning-rate');
}

/** This step's weight decay (a schedule is evaluated at the learning rate's step), or null. */
export function currentWeightDecay(c: Core): number | null {
  return c.wd === null ? null : c.wdValue.at(c.wd, c.rawIterations, c.host.getClassName(), 'weight-decay');
}

/**
 * Evaluates every schedule of the step (rate, weight decay, the subclass's options) into memory
 * the optimizer owns, before any input is read. Values stay unboxed from here to the kernels;
 * only a scheduled rate is boxed, once, as updateStep's argument.
 */
export function resolveHyperparameters(c: Core): void {
  const step = c.rawIterations;
  const owner = c.host.getClassName();
  if (c.lrFixed === null) {
    c.lrValue.resolve(c.lr, step, owner, 'learning-rate');
    c.lrStep = c.lrValue.value;
  } else c.lrStep = c.lrFixed;
  if (c.wd !== null) c.wdValue.resolve(c.wd, step, owner, 'weight-decay');
  for (const option of c.scheduledOptions) option.resolve(step, owner);
}

/** Real updates so far (under gradient accumulation, micro-steps are not counted). */
export function iterationsOf(c: Core): number {
  const N = c.host.gradientAccumulationSteps;
  return N ? Math.floor(c.rawIterations / N) : c.rawIterations;
}
