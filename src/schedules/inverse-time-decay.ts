import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber } from '../validate.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface InverseTimeDecayOptions {
  /** The learning rate at step 0; >= 0. */
  initialLearningRate: number;
  /** The step unit of the decay; > 0. */
  decaySteps: number;
  /** >= 0; the rate is halved after decaySteps / decayRate steps. */
  decayRate: number;
  /** Decay in whole periods (floor(step / decaySteps)) instead of continuously. Default false. */
  staircase?: boolean;
}

/**
 * Keras' InverseTimeDecay: `initialLearningRate / (1 + decayRate * step / decaySteps)`, with
 * step / decaySteps floored when `staircase` is set. Computed in float64 (Keras uses float32);
 * the optimizer rounds the result to float32.
 */
export class InverseTimeDecay extends BuiltinSchedule {
  static override readonly className: string = 'InverseTimeDecay';
  static override readonly optionNames: readonly string[] = ['initialLearningRate', 'decaySteps', 'decayRate', 'staircase'];
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;

  constructor(options: InverseTimeDecayOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    this.initialLearningRate = checkNumber(`${where}: initialLearningRate`, options.initialLearningRate, { min: 0, float32: true });
    this.decaySteps = checkNumber(`${where}: decaySteps`, options.decaySteps, { min: 0, minExclusive: true });
    this.decayRate = checkNumber(`${where}: decayRate`, options.decayRate, { min: 0 });
    this.staircase = checkBoolean(`${where}: staircase`, options.staircase ?? false);
  }

  protected override compute(step: number, out: Float64Array): null {
    const p = step / this.decaySteps;
    out[0] = this.initialLearningRate / (1 + this.decayRate * (this.staircase ? Math.floor(p) : p));
    return null;
  }

  override getConfig(): Config {
    return {
      initialLearningRate: this.initialLearningRate,
      decaySteps: this.decaySteps,
      decayRate: this.decayRate,
      staircase: this.staircase,
    };
  }
}
registerClass(InverseTimeDecay);
