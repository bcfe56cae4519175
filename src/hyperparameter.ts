// A hyperparameter that may follow a schedule (the learning rate, the weight decay): its value at
// a step, checked and rounded to float32 as a kernel's f32 parameter is, without allocating.
import { type Config, type ConfigValue } from './registry.js';
import { LearningRateSchedule } from './schedules/schedule.js';
import { checkNumber, type NumberRule } from './validate.js';

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

  /** A factor the value is multiplied by (a ReduceLROnPlateau's); 1 leaves it as it is. */
  scale = 1;

  /** `value` at `step` (times `scale`), rounded to float32. Throws (naming `what`) unless finite, >= 0 and a float32. */
  at(value: Scheduled, step: number, owner: string, what: string): number {
    const raw: unknown = typeof value === 'number' ? value : value instanceof LearningRateSchedule ? value.call(step) : value(step);
    return this.round(this.scale !== 1 && typeof raw === 'number' ? raw * this.scale : raw, step, owner, what);
  }

  private round(v: unknown, step: number, owner: string, what: string): number {
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

/**
 * An optimizer's own option that may follow a schedule (beta1, momentum). A constant is checked
 * once, against `rule`; a schedule's value is checked against the same rule at every step,
 * resolved before the step reads its inputs, and rounded to float32. `value` is what the update
 * reads: the constant as given, or this step's scheduled value.
 */
export class ScheduledOption {
  value: number;
  private readonly hyper = new Hyperparameter();

  constructor(
    readonly name: string,
    readonly source: Scheduled,
    private readonly rule: NumberRule,
  ) {
    this.value = typeof source === 'number' ? source : NaN;
  }

  /** True when it follows a schedule (or a function of the step). */
  get scheduled(): boolean {
    return typeof this.source !== 'number';
  }

  /** Resolves `value` for the step `step` (a no-op for a constant). */
  resolve(step: number, owner: string): void {
    if (typeof this.source === 'number') return;
    const v = this.hyper.at(this.source, step, owner, this.name);
    if (!ruleHolds(v, this.rule)) checkNumber(`${owner}: the ${this.name} schedule at step ${step}`, v, this.rule);
    this.value = v;
  }

  /** The value the update at `step` uses (evaluates a schedule). */
  at(step: number, owner: string): number {
    this.resolve(step, owner);
    return this.value;
  }

  config(): ConfigValue {
    return serializeScheduled(this.source, this.name);
  }
}

function ruleHolds(v: number, rule: NumberRule): boolean {
  return !(
    (rule.min !== undefined && (rule.minExclusive ? v <= rule.min : v < rule.min)) ||
    (rule.max !== undefined && (rule.maxExclusive ? v >= rule.max : v > rule.max))
  );
}

/** Checks an option that may follow a schedule: a constant against `rule` (and float32), a schedule later. */
export function scheduledOption(owner: string, name: string, value: unknown, rule: NumberRule): ScheduledOption {
  const source = value instanceof LearningRateSchedule || typeof value === 'function' ? (value as Scheduled) : checkNumber(`${owner}: ${name}`, value, { ...rule, float32: true });
  return new ScheduledOption(name, source, rule);
}
