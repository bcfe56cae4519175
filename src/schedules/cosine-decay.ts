import { type Config, registerClass } from '../registry.js';
import { checkNumber, optionalNumber } from '../validate.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface CosineDecayOptions {
  /** The learning rate at step 0 (the warmup's start when `warmupTarget` is set); >= 0. */
  initialLearningRate: number;
  /** Length of the cosine decay in steps; > 0. */
  decaySteps: number;
  /** The rate at the end of the decay, as a fraction of the decay's starting rate; >= 0. Default 0. */
  alpha?: number;
  /** Rate reached by a linear warmup from `initialLearningRate`; null (default) means no warmup. */
  warmupTarget?: number | null;
  /** Length of the warmup in steps; >= 0. Ignored when `warmupTarget` is null. Default 0. */
  warmupSteps?: number;
}

/**
 * Keras' CosineDecay, with optional linear warmup. With `c(x) = (1 - alpha) * (1 + cos(pi * x /
 * decaySteps)) / 2 + alpha`:
 * - no warmupTarget: `initialLearningRate * c(min(step, decaySteps))`;
 * - with warmupTarget: s = min(step, warmupSteps + decaySteps); while s < warmupSteps the rate
 *   goes linearly from initialLearningRate to warmupTarget, then it is `warmupTarget * c(s - warmupSteps)`.
 * Computed in float64 (Keras uses float32); the optimizer rounds the result to float32.
 */
export class CosineDecay extends BuiltinSchedule {
  static override readonly className: string = 'CosineDecay';
  static override readonly optionNames: readonly string[] = ['initialLearningRate', 'decaySteps', 'alpha', 'warmupTarget', 'warmupSteps'];
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly alpha: number;
  readonly warmupTarget: number | null;
  readonly warmupSteps: number;

  constructor(options: CosineDecayOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    this.initialLearningRate = checkNumber(`${where}: initialLearningRate`, options.initialLearningRate, { min: 0, float32: true });
    this.decaySteps = checkNumber(`${where}: decaySteps`, options.decaySteps, { min: 0, minExclusive: true });
    this.alpha = checkNumber(`${where}: alpha`, options.alpha ?? 0, { min: 0 });
    this.warmupTarget = optionalNumber(`${where}: warmupTarget`, options.warmupTarget, { min: 0, float32: true });
    this.warmupSteps = checkNumber(`${where}: warmupSteps`, options.warmupSteps ?? 0, { min: 0 });
  }

  protected override compute(step: number, out: Float64Array): null {
    const target = this.warmupTarget;
    const w = this.warmupSteps;
    const s = Math.min(step, w + this.decaySteps);
    if (target === null) out[0] = this.initialLearningRate * this.decayed(Math.min(step, this.decaySteps));
    else if (s < w) out[0] = (target - this.initialLearningRate) * (s / w) + this.initialLearningRate;
    else out[0] = target * this.decayed(s - w);
    return null;
  }

  override getConfig(): Config {
    return {
      initialLearningRate: this.initialLearningRate,
      decaySteps: this.decaySteps,
      alpha: this.alpha,
      warmupTarget: this.warmupTarget,
      warmupSteps: this.warmupSteps,
    };
  }

  /** The cosine factor after x of decaySteps steps, from 1 down to alpha. */
  private decayed(x: number): number {
    return (1 - this.alpha) * 0.5 * (1 + Math.cos((Math.PI * x) / this.decaySteps)) + this.alpha;
  }
}
registerClass(CosineDecay);
