import { checkOptionNames } from '../options.js';
import { checkNumber, describeValue } from '../validate.js';
import { JoinSchedules } from './join-schedules.js';
import { LinearSchedule } from './linear-schedule.js';
import { LearningRateSchedule } from './schedule.js';

export interface WarmupOptions {
  /** Length of the warmup, an integer >= 0. */
  warmupSteps: number;
  /** The value at step 0; >= 0. Default 0. */
  initialValue?: number;
}

/**
 * `schedule` behind a linear warmup: from `initialValue` to `schedule.call(0)` over `warmupSteps`
 * steps (optax's linear_schedule), then `schedule.call(step - warmupSteps)`. Returns a
 * `JoinSchedules` of a `LinearSchedule` and `schedule` at boundary `warmupSteps`, so it serializes.
 * `schedule.call(0)` is read once, here.
 */
export function warmup(schedule: LearningRateSchedule, options: WarmupOptions): JoinSchedules {
  const where = 'warmup';
  if (!(schedule instanceof LearningRateSchedule)) throw new TypeError(`${where}: schedule must be a LearningRateSchedule, got ${describeValue(schedule)}`);
  if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
  checkOptionNames(null, where, options, ['warmupSteps', 'initialValue']);
  const warmupSteps = checkNumber(`${where}: warmupSteps`, options.warmupSteps, { integer: true, min: 0 });
  const initialValue = checkNumber(`${where}: initialValue`, options.initialValue ?? 0, { min: 0, float32: true });
  const target = checkNumber(`${where}: schedule.call(0) (the value the warmup reaches)`, schedule.call(0), { min: 0, float32: true });
  return new JoinSchedules({
    schedules: [new LinearSchedule({ initialValue, endValue: target, transitionSteps: warmupSteps }), schedule],
    boundaries: [warmupSteps],
  });
}
