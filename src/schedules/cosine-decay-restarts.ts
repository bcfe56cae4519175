import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface CosineDecayRestartsOptions {
  /** The learning rate at step 0; >= 0. */
  initialLearningRate: number;
  /** Length of the first cosine period in steps; > 0. */
  firstDecaySteps: number;
  /** Each period is tMul times longer than the previous one; >= 1. Default 2. */
  tMul?: number;
  /** Each restart starts at mMul times the previous period's starting rate; >= 0. Default 1. */
  mMul?: number;
  /** The rate at the end of every period, as a fraction of initialLearningRate; >= 0. Default 0. */
  alpha?: number;
}

/**
 * Keras' CosineDecayRestarts (SGDR, Loshchilov & Hutter): cosine periods of length
 * `firstDecaySteps * tMul ** i`. In period i, at fraction f of it, the rate is
 * `initialLearningRate * ((1 - alpha) * mMul ** i * (1 + cos(pi * f)) / 2 + alpha)`: mMul scales
 * only the cosine term, so every period still ends at `alpha * initialLearningRate`.
 *
 * Differences from Keras: tMul < 1 is refused (the periods would shrink to a finite total after
 * which Keras returns NaN), and the period index is computed in float64 and corrected at the
 * restart steps themselves, so a restart step always starts its new period (Keras' float32 log
 * can land one period early there). The optimizer rounds the result to float32.
 */
export class CosineDecayRestarts extends BuiltinSchedule {
  static override readonly className: string = 'CosineDecayRestarts';
  static override readonly optionNames: readonly string[] = ['initialLearningRate', 'firstDecaySteps', 'tMul', 'mMul', 'alpha'];
  readonly initialLearningRate: number;
  readonly firstDecaySteps: number;
  readonly tMul: number;
  readonly mMul: number;
  readonly alpha: number;

  constructor(options: CosineDecayRestartsOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    this.initialLearningRate = checkNumber(`${where}: initialLearningRate`, options.initialLearningRate, { min: 0, float32: true });
    this.firstDecaySteps = checkNumber(`${where}: firstDecaySteps`, options.firstDecaySteps, { min: 0, minExclusive: true });
    this.tMul = checkNumber(`${where}: tMul`, options.tMul ?? 2, { min: 1 });
    this.mMul = checkNumber(`${where}: mMul`, options.mMul ?? 1, { min: 0 });
    this.alpha = checkNumber(`${where}: alpha`, options.alpha ?? 0, { min: 0 });
  }

  protected override compute(step: number, out: Float64Array): null {
    const t = this.tMul;
    let f = step / this.firstDecaySteps; // position in units of the first period
    let i: number;
    if (t === 1) {
      i = Math.floor(f);
      f -= i;
    } else {
      // Invert periodStart, then fix a log that rounded across a period start.
      i = Math.max(0, Math.floor(Math.log1p(f * (t - 1)) / Math.log(t)));
      if (f < this.periodStart(i)) i--;
      else if (f >= this.periodStart(i + 1)) i++;
      f = (f - this.periodStart(i)) / Math.pow(t, i);
    }
    const cosine = 0.5 * Math.pow(this.mMul, i) * (1 + Math.cos(Math.PI * f));
    out[0] = this.initialLearningRate * ((1 - this.alpha) * cosine + this.alpha);
    return null;
  }

  override getConfig(): Config {
    return {
      initialLearningRate: this.initialLearningRate,
      firstDecaySteps: this.firstDecaySteps,
      tMul: this.tMul,
      mMul: this.mMul,
      alpha: this.alpha,
    };
  }

  /** Where period i starts, in units of the first period: 1 + t + ... + t^(i-1). */
  private periodStart(i: number): number {
    return (Math.pow(this.tMul, i) - 1) / (this.tMul - 1);
  }
}
registerClass(CosineDecayRestarts);
