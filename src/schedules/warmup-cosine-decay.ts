import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface WarmupCosineDecayOptions {
  /** The value at step 0; >= 0. */
  initialValue: number;
  /** The value at the end of the warmup (step `warmupSteps`); >= 0. */
  peakValue: number;
  /** Length of the linear warmup, an integer >= 0. */
  warmupSteps: number;
  /** Length of the whole schedule, warmup included (as in optax), an integer > warmupSteps. */
  decaySteps: number;
  /** The value from step `decaySteps` on; >= 0. Default 0. Ignored when peakValue is 0 (as in optax). */
  endValue?: number;
  /** The cosine factor is raised to this power; >= 0. Default 1. */
  exponent?: number;
}

/**
 * optax's `warmup_cosine_decay_schedule`, which joins at step W = warmupSteps:
 * - step < W: `linear_schedule(initialValue -> peakValue over W steps)`;
 * - step >= W: with D = decaySteps - W, c = min(step - W, D), alpha = endValue / peakValue (0 when
 *   peakValue is 0): `peakValue * ((1 - alpha) * (0.5 * (1 + cos(pi * c / D))) ** exponent + alpha)`.
 * optax raises when D <= 0 (its cosine part needs positive decay steps); so does this.
 * Computed in float64; the optimizer rounds to float32.
 */
export class WarmupCosineDecay extends BuiltinSchedule {
  static override readonly className: string = 'WarmupCosineDecay';
  static override readonly optionNames: readonly string[] = ['initialValue', 'peakValue', 'warmupSteps', 'decaySteps', 'endValue', 'exponent'];
  readonly initialValue: number;
  readonly peakValue: number;
  readonly warmupSteps: number;
  readonly decaySteps: number;
  readonly endValue: number;
  readonly exponent: number;
  private readonly alpha: number;

  constructor(options: WarmupCosineDecayOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    this.initialValue = checkNumber(`${where}: initialValue`, options.initialValue, { min: 0, float32: true });
    this.peakValue = checkNumber(`${where}: peakValue`, options.peakValue, { min: 0, float32: true });
    const w = checkNumber(`${where}: warmupSteps`, options.warmupSteps, { integer: true, min: 0 });
    this.warmupSteps = w;
    this.decaySteps = checkNumber(`${where}: decaySteps (warmup included)`, options.decaySteps, { integer: true, min: w, minExclusive: true });
    this.endValue = checkNumber(`${where}: endValue`, options.endValue ?? 0, { min: 0, float32: true });
    // A negative power of a cosine factor that reaches 0 would be Infinity.
    this.exponent = checkNumber(`${where}: exponent`, options.exponent ?? 1, { min: 0 });
    this.alpha = this.peakValue === 0 ? 0 : this.endValue / this.peakValue;
  }

  protected override compute(step: number, out: Float64Array): null {
    const w = this.warmupSteps;
    const p = this.peakValue;
    if (step < w) {
      out[0] = (this.initialValue - p) * (1 - step / w) + p;
      return null;
    }
    const d = this.decaySteps - w;
    const c = Math.min(step - w, d);
    const cosine = 0.5 * (1 + Math.cos((Math.PI * c) / d));
    out[0] = p * ((1 - this.alpha) * Math.pow(cosine, this.exponent) + this.alpha);
    return null;
  }

  override getConfig(): Config {
    return {
      initialValue: this.initialValue,
      peakValue: this.peakValue,
      warmupSteps: this.warmupSteps,
      decaySteps: this.decaySteps,
      endValue: this.endValue,
      exponent: this.exponent,
    };
  }
}
registerClass(WarmupCosineDecay);
