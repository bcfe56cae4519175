import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber } from '../validate.js';
import { OneCycleMomentum } from './one-cycle-momentum.js';
import { type AnnealStrategy, type CyclePhases, cyclePhases, cycleValue } from './one-cycle-phases.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface OneCycleOptions {
  /** The peak learning rate; >= 0. */
  maxLearningRate: number;
  /** Steps in the cycle, an integer >= 1. */
  totalSteps: number;
  /** Fraction of the cycle spent raising the rate, in [0, 1]. Default 0.3. */
  pctStart?: number;
  /** The rate starts at maxLearningRate / divFactor; > 0. Default 25. */
  divFactor?: number;
  /** The rate ends at maxLearningRate / divFactor / finalDivFactor; > 0. Default 1e4. */
  finalDivFactor?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: AnnealStrategy;
  /** PyTorch's `three_phase`: up, back down to the initial rate, then down to the minimum. Default false. */
  threePhase?: boolean;
  /** Whether `momentum()` gives a momentum cycle (PyTorch's `cycle_momentum`). Default true. */
  cycleMomentum?: boolean;
  /** The momentum at the rate's peak; in [0, 1). Default 0.85. */
  baseMomentum?: number;
  /** The momentum at the start and end of the cycle; in [0, 1). Default 0.95. */
  maxMomentum?: number;
}

/**
 * PyTorch's OneCycleLR. With initial = maxLearningRate / divFactor and min = initial /
 * finalDivFactor, the phases end at PyTorch's steps `pctStart * totalSteps - 1`, (threePhase)
 * `2 * pctStart * totalSteps - 2` and `totalSteps - 1`; the rate anneals (cos or linear) initial ->
 * max, then max -> min (threePhase: max -> initial, then initial -> min), with pct = (step -
 * previous end) / (end - previous end). Step t of an optimizer is PyTorch's scheduler after t calls
 * of `step()`. From step totalSteps - 1 on it holds that step's value (min, unless a large
 * pctStart leaves that step in an earlier phase): PyTorch raises past totalSteps, and at totalSteps itself extrapolates
 * past the last phase (below min; negative for 'linear' unless the last phase is very long), a
 * value a PyTorch loop of totalSteps steps never trains with.
 * `momentum()` gives the inverse momentum cycle as a schedule of its own.
 */
export class OneCycle extends BuiltinSchedule {
  static override readonly className: string = 'OneCycle';
  static override readonly optionNames: readonly string[] = [
    'maxLearningRate', 'totalSteps', 'pctStart', 'divFactor', 'finalDivFactor', 'annealStrategy', 'threePhase',
    'cycleMomentum', 'baseMomentum', 'maxMomentum',
  ];
  readonly maxLearningRate: number;
  readonly totalSteps: number;
  readonly pctStart: number;
  readonly divFactor: number;
  readonly finalDivFactor: number;
  readonly annealStrategy: AnnealStrategy;
  readonly threePhase: boolean;
  readonly cycleMomentum: boolean;
  readonly baseMomentum: number;
  readonly maxMomentum: number;
  private readonly phases: CyclePhases;
  private readonly from: readonly number[];
  private readonly to: readonly number[];

  constructor(options: OneCycleOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    const maxLr = checkNumber(`${where}: maxLearningRate`, options.maxLearningRate, { min: 0, float32: true });
    const phases = cyclePhases(where, options.totalSteps, options.pctStart ?? 0.3, options.annealStrategy ?? 'cos', options.threePhase ?? false);
    const div = checkNumber(`${where}: divFactor`, options.divFactor ?? 25, { min: 0, minExclusive: true });
    const finalDiv = checkNumber(`${where}: finalDivFactor`, options.finalDivFactor ?? 1e4, { min: 0, minExclusive: true });
    const cycle = checkBoolean(`${where}: cycleMomentum`, options.cycleMomentum ?? true);
    const momentum = { min: 0, max: 1, maxExclusive: true, float32: true };
    const base = checkNumber(`${where}: baseMomentum`, options.baseMomentum ?? 0.85, momentum);
    const max = checkNumber(`${where}: maxMomentum`, options.maxMomentum ?? 0.95, momentum);
    // The rates the cycle passes through; a small factor could push them past float32.
    const initial = checkNumber(`${where}: maxLearningRate / divFactor (the initial rate)`, maxLr / div, { min: 0, float32: true });
    const min = checkNumber(`${where}: maxLearningRate / divFactor / finalDivFactor (the final rate)`, initial / finalDiv, { min: 0, float32: true });
    this.maxLearningRate = maxLr;
    this.totalSteps = phases.totalSteps;
    this.pctStart = phases.pctStart;
    this.divFactor = div;
    this.finalDivFactor = finalDiv;
    this.annealStrategy = phases.annealStrategy;
    this.threePhase = phases.threePhase;
    this.cycleMomentum = cycle;
    this.baseMomentum = base;
    this.maxMomentum = max;
    this.phases = phases;
    this.from = Object.freeze(phases.threePhase ? [initial, maxLr, initial] : [initial, maxLr]);
    this.to = Object.freeze(phases.threePhase ? [maxLr, initial, min] : [maxLr, min]);
  }

  protected override compute(step: number, out: Float64Array): null {
    cycleValue(step, this.phases, this.from, this.to, out);
    return null;
  }

  /**
   * The momentum (beta1) cycle PyTorch runs alongside this rate, as a serializable schedule for an
   * optimizer's momentum / beta1. Throws when `cycleMomentum` is false (PyTorch then leaves the
   * optimizer's momentum alone).
   */
  momentum(): OneCycleMomentum {
    if (!this.cycleMomentum) {
      throw new Error(`${this.getClassName()}.momentum: cycleMomentum is false, so this schedule has no momentum cycle`);
    }
    return new OneCycleMomentum({
      totalSteps: this.totalSteps,
      pctStart: this.pctStart,
      annealStrategy: this.annealStrategy,
      threePhase: this.threePhase,
      baseMomentum: this.baseMomentum,
      maxMomentum: this.maxMomentum,
    });
  }

  override getConfig(): Config {
    return {
      maxLearningRate: this.maxLearningRate,
      totalSteps: this.totalSteps,
      pctStart: this.pctStart,
      divFactor: this.divFactor,
      finalDivFactor: this.finalDivFactor,
      annealStrategy: this.annealStrategy,
      threePhase: this.threePhase,
      cycleMomentum: this.cycleMomentum,
      baseMomentum: this.baseMomentum,
      maxMomentum: this.maxMomentum,
    };
  }
}
registerClass(OneCycle);
