import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { checkScheduleOptions, BuiltinSchedule } from './schedule.js';

export interface ConstantScheduleOptions {
  /** The value at every step; >= 0. */
  value: number;
}

/** optax's `constant_schedule`: `value` at every step. Mostly a building block for `joinSchedules`. */
export class ConstantSchedule extends BuiltinSchedule {
  static override readonly className: string = 'ConstantSchedule';
  static override readonly optionNames: readonly string[] = ['value'];
  readonly value: number;

  constructor(options: ConstantScheduleOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    this.value = checkNumber(`${where}: value`, options.value, { min: 0, float32: true });
  }

  protected override compute(_step: number, out: Float64Array): null {
    out[0] = this.value;
    return null;
  }

  override getConfig(): Config {
    return { value: this.value };
  }
}
registerClass(ConstantSchedule);
