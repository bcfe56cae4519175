import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber } from '../validate.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface PolynomialDecayOptions {
  /** The learning rate at step 0; >= 0. */
  initialLearningRate: number;
  /** Steps to go from the initial to the end rate; > 0. */
  decaySteps: number;
  /** The rate reached after `decaySteps`; >= 0. Default 1e-4. */
  endLearningRate?: number;
  /** Exponent of the polynomial; >= 0. Default 1 (linear). */
  power?: number;
  /** Restart the decay after every `decaySteps` instead of staying at the end rate. Default false. */
  cycle?: boolean;
}

/**
 * Keras' PolynomialDecay: `(initial - end) * (1 - s / D) ** power + end`. Without `cycle`,
 * s = min(step, decaySteps) and D = decaySteps. With `cycle`, s = step and D is the first multiple
 * of decaySteps that is >= step (decaySteps itself at step 0), so the rate jumps back up right
 * after each multiple. Computed in float64 (Keras uses float32); the optimizer rounds the result
 * to float32.
 */
export class PolynomialDecay extends BuiltinSchedule {
  static override readonly className: string = 'PolynomialDecay';
  static override readonly optionNames: readonly string[] = ['initialLearningRate', 'decaySteps', 'endLearningRate', 'power', 'cycle'];
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly endLearningRate: number;
  readonly power: number;
  readonly cycle: boolean;

  constructor(options: PolynomialDecayOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    this.initialLearningRate = checkNumber(`${where}: initialLearningRate`, options.initialLearningRate, { min: 0, float32: true });
    this.decaySteps = checkNumber(`${where}: decaySteps`, options.decaySteps, { min: 0, minExclusive: true });
    this.endLearningRate = checkNumber(`${where}: endLearningRate`, options.endLearningRate ?? 1e-4, { min: 0, float32: true });
    this.power = checkNumber(`${where}: power`, options.power ?? 1, { min: 0 });
    this.cycle = checkBoolean(`${where}: cycle`, options.cycle ?? false);
  }

  protected override compute(step: number, out: Float64Array): null {
    let s = step;
    let d = this.decaySteps;
    if (this.cycle) d *= s === 0 ? 1 : Math.ceil(s / d);
    else s = Math.min(s, d);
    // max(0, ...): with a fractional decaySteps, rounding in ceil(s / d) could leave s a hair above d.
    out[0] = (this.initialLearningRate - this.endLearningRate) * Math.pow(Math.max(0, 1 - s / d), this.power) + this.endLearningRate;
    return null;
  }

  override getConfig(): Config {
    return {
      initialLearningRate: this.initialLearningRate,
      decaySteps: this.decaySteps,
      endLearningRate: this.endLearningRate,
      power: this.power,
      cycle: this.cycle,
    };
  }
}
registerClass(PolynomialDecay);
