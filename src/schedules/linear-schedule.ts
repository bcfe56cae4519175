import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface LinearScheduleOptions {
  /** The value up to `transitionBegin`; >= 0. */
  initialValue: number;
  /** The value from `transitionBegin + transitionSteps` on; >= 0. */
  endValue: number;
  /** Length of the transition in steps, an integer; <= 0 holds `initialValue` forever (as optax). */
  transitionSteps: number;
  /** Step where the transition starts, an integer >= 0. Default 0. */
  transitionBegin?: number;
}

/**
 * optax's `linear_schedule`: with c = clip(step - transitionBegin, 0, transitionSteps), the value is
 * `(initialValue - endValue) * (1 - c / transitionSteps) + endValue`, so `initialValue` before
 * `transitionBegin` and `endValue` from `transitionBegin + transitionSteps` on. A `transitionSteps`
 * <= 0 makes it constant at `initialValue`, as in optax. optax falls back to 0 for a negative
 * `transitionBegin`; here it is an error. Computed in float64; the optimizer rounds to float32.
 */
export class LinearSchedule extends BuiltinSchedule {
  static override readonly className: string = 'LinearSchedule';
  static override readonly optionNames: readonly string[] = ['initialValue', 'endValue', 'transitionSteps', 'transitionBegin'];
  readonly initialValue: number;
  readonly endValue: number;
  readonly transitionSteps: number;
  readonly transitionBegin: number;

  constructor(options: LinearScheduleOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    this.initialValue = checkNumber(`${where}: initialValue`, options.initialValue, { min: 0, float32: true });
    this.endValue = checkNumber(`${where}: endValue`, options.endValue, { min: 0, float32: true });
    this.transitionSteps = checkNumber(`${where}: transitionSteps`, options.transitionSteps, { integer: true });
    this.transitionBegin = checkNumber(`${where}: transitionBegin`, options.transitionBegin ?? 0, { integer: true, min: 0 });
  }

  protected override compute(step: number, out: Float64Array): null {
    const t = this.transitionSteps;
    const c = Math.min(Math.max(step - this.transitionBegin, 0), t);
    // optax's form (polynomial_schedule with power 1), for the same rounding.
    out[0] = t <= 0 ? this.initialValue : (this.initialValue - this.endValue) * (1 - c / t) + this.endValue;
    return null;
  }

  override getConfig(): Config {
    return {
      initialValue: this.initialValue,
      endValue: this.endValue,
      transitionSteps: this.transitionSteps,
      transitionBegin: this.transitionBegin,
    };
  }
}
registerClass(LinearSchedule);
