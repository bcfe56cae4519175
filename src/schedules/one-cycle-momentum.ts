import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type AnnealStrategy, type CyclePhases, cyclePhases, cycleValue } from './one-cycle-phases.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface OneCycleMomentumOptions {
  /** Steps in the cycle, an integer >= 1. */
  totalSteps: number;
  /** Fraction of the cycle spent in the first phase, in [0, 1]. Default 0.3. */
  pctStart?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: AnnealStrategy;
  /** PyTorch's `three_phase`. Default false. */
  threePhase?: boolean;
  /** The momentum at the learning rate's peak; in [0, 1). Default 0.85. */
  baseMomentum?: number;
  /** The momentum at the start and end of the cycle; in [0, 1). Default 0.95. */
  maxMomentum?: number;
}

/**
 * The momentum (or Adam's beta1) PyTorch's OneCycleLR sets when `cycle_momentum` is on: inverse to
 * the learning rate, maxMomentum -> baseMomentum over the first phase, then back to maxMomentum (and
 * held there in the third phase of `threePhase`); past the cycle it holds its last value. Usually
 * made by `OneCycle.momentum()`, which passes the same phase options.
 */
export class OneCycleMomentum extends BuiltinSchedule {
  static override readonly className: string = 'OneCycleMomentum';
  static override readonly optionNames: readonly string[] = ['totalSteps', 'pctStart', 'annealStrategy', 'threePhase', 'baseMomentum', 'maxMomentum'];
  readonly totalSteps: number;
  readonly pctStart: number;
  readonly annealStrategy: AnnealStrategy;
  readonly threePhase: boolean;
  readonly baseMomentum: number;
  readonly maxMomentum: number;
  private readonly phases: CyclePhases;
  private readonly from: readonly number[];
  private readonly to: readonly number[];

  constructor(options: OneCycleMomentumOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    const phases = cyclePhases(where, options.totalSteps, options.pctStart ?? 0.3, options.annealStrategy ?? 'cos', options.threePhase ?? false);
    const momentum = { min: 0, max: 1, maxExclusive: true, float32: true };
    const base = checkNumber(`${where}: baseMomentum`, options.baseMomentum ?? 0.85, momentum);
    const max = checkNumber(`${where}: maxMomentum`, options.maxMomentum ?? 0.95, momentum);
    this.totalSteps = phases.totalSteps;
    this.pctStart = phases.pctStart;
    this.annealStrategy = phases.annealStrategy;
    this.threePhase = phases.threePhase;
    this.baseMomentum = base;
    this.maxMomentum = max;
    this.phases = phases;
    this.from = Object.freeze(phases.threePhase ? [max, base, max] : [max, base]);
    this.to = Object.freeze(phases.threePhase ? [base, max, max] : [base, max]);
  }

  protected override compute(step: number, out: Float64Array): null {
    cycleValue(step, this.phases, this.from, this.to, out);
    return null;
  }

  override getConfig(): Config {
    return {
      totalSteps: this.totalSteps,
      pctStart: this.pctStart,
      annealStrategy: this.annealStrategy,
      threePhase: this.threePhase,
      baseMomentum: this.baseMomentum,
      maxMomentum: this.maxMomentum,
    };
  }
}
registerClass(OneCycleMomentum);
