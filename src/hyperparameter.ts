// A hyperparameter that may follow a schedule (the learning rate, the weight decay): its value at
// a step, checked and rounded to float32 as a kernel's f32 parameter is, without allocating.
import { type Config, type ConfigValue } from './registry.js';
import { LearningRateSchedule } from './schedules/schedule.js';
import { checkNumber } from './validate.js';

/** A constant, a schedule, or a function of the step (not serializable). */
export type Scheduled = number | LearningRateSchedule | ((step: number) => number);

/** Checks an option given as a constant (finite, >= 0, representable in float32) or a schedule. */
export function checkScheduled(name: string, value: unknown): Scheduled {
  if (value instanceof LearningRateSchedule || typeof value === 'function') return value as Scheduled;
  return checkNumber(name, value, { min: 0, float32: true });
}

/** The option as it goes into a config (a schedule as `{ className, config }`). */
export function serializeScheduled(value: Scheduled, name: string): ConfigValue {
  if (typeof value === 'number') return value;
  if (value instanceof LearningRateSchedule) return { className: value.getClassName(), config: value.getConfig() as Config };
  throw new TypeError(`getConfig: a function ${name} cannot be serialized; use a LearningRateSchedule subclass`);
}

/** Resolves a Scheduled value at a step; hands out the same boxed number while it is constant. */
export class Hyperparameter {
  // Typed as unions on purpose: V8 then keeps the boxed numbers as they are.
  private source: number | null = null;
  private rounded: number | null = null;

  /** `value` at `step`, rounded to float32. Throws (naming `what`) unless finite, >= 0 and a float32. */
  at(value: Scheduled, step: number, owner: string, what: string): number {
    const v = typeof value === 'number' ? value : value instanceof LearningRateSchedule ? value.call(step) : value(step);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || !Number.isFinite(Math.fround(v))) {
      throw new RangeError(`${owner}: the ${what} schedule returned ${String(v)} at step ${step}; expected a finite number >= 0 representable in float32`);
    }
    // Passing a fresh double to updateStep would allocate a heap number every step.
    if (v !== this.source) {
      this.source = v;
      this.rounded = Math.fround(v);
    }
    return this.rounded as number;
  }
}
