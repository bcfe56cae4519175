import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { checkScheduleOptions, LearningRateSchedule } from './schedule.js';

export interface ConstantScheduleOptions {
  /** The value at every step; >= 0. */
  value: number;
}

/** optax's `constant_schedule`: `value` at every step. Mostly a building block for `joinSchedules`. */
export class ConstantSchedule extends LearningRateSchedule {
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

  override call(_step: number): number {
    return this.value;
  }

  override getConfig(): Config {
    return { value: this.value };
  }
}
registerClass(ConstantSchedule);
