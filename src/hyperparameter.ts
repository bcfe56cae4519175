// A hyperparameter that may follow a schedule (the learning rate, the weight decay): its value at
// a step, checked and rounded to float32 as a kernel's f32 parameter is, without allocating.
import { type Config, type ConfigValue } from './registry.js';
import { evaluateInto, LearningRateSchedule } from './schedules/schedule.js';
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

/**
 * Resolves a Scheduled value at a step into memory it owns: `resolve` writes, `value` reads. The
 * value stays an unboxed float64 from the schedule to the kernel, so a value that changes every
 * step (a schedule's) allocates nothing.
 */
export class Hyperparameter {
  // [the value as computed (times scale), its float32 rounding]
  private readonly cell = new Float64Array(2).fill(NaN);

  /** A factor the value is multiplied by (a ReduceLROnPlateau's); 1 leaves it as it is. */
  scale = 1;

  /** `rule`: what the value must also satisfy (an option's range), checked before it is kept. */
  constructor(private readonly rule: NumberRule | null = null) {}

  /** The value `resolve` computed last, rounded to float32. */
  get value(): number {
    return this.cell[1];
  }

  /** Evaluates `value` at `step` (times `scale`). Throws (naming `what`) unless finite, >= 0 and a float32. */
  resolve(value: Scheduled, step: number, owner: string, what: string): void {
    const cell = this.cell;
    if (typeof value === 'number') cell[0] = value;
    else {
      const bad = value instanceof LearningRateSchedule ? value[evaluateInto](step, cell) : intoCell(value(step), cell);
      if (bad !== null) throw this.invalid(bad, step, owner, what);
    }
    if (this.scale !== 1) cell[0] *= this.scale;
    const v = cell[0];
    if (!Number.isFinite(v) || v < 0 || !Number.isFinite(Math.fround(v))) throw this.invalid(v, step, owner, what);
    const r = Math.fround(v);
    if (this.rule !== null && !ruleHolds(r, this.rule)) checkNumber(`${owner}: the ${what} schedule at step ${step}`, r, this.rule);
    cell[1] = r;
  }

  /** `resolve` then `value`, for the public getters (a boxed number is fine there). */
  at(value: Scheduled, step: number, owner: string, what: string): number {
    this.resolve(value, step, owner, what);
    return this.cell[1];
  }

  private invalid(v: unknown, step: number, owner: string, what: string): RangeError {
    return new RangeError(`${owner}: the ${what} schedule returned ${String(v)} at step ${step}; expected a finite number >= 0 representable in float32`);
  }
}

/** Writes a function schedule's result into `out[0]` (null), or returns it when it is not a number. */
function intoCell(v: unknown, out: Float64Array): unknown {
  if (typeof v !== 'number') return v;
  out[0] = v;
  return null;
}

/**
 * An optimizer's own option that may follow a schedule (beta1, momentum). A constant is checked
 * once, against `rule`; a schedule's value is checked against the same rule at every step,
 * resolved before the step reads its inputs, and rounded to float32. `value` is what the update
 * reads: the constant as given, or this step's scheduled value.
 */
export class ScheduledOption {
  private readonly hyper: Hyperparameter;

  constructor(
    readonly name: string,
    readonly source: Scheduled,
    rule: NumberRule,
  ) {
    this.hyper = new Hyperparameter(rule);
  }

  /** The constant, or the value the last `resolve` computed (NaN before the first). */
  get value(): number {
    return typeof this.source === 'number' ? this.source : this.hyper.value;
  }

  /** True when it follows a schedule (or a function of the step). */
  get scheduled(): boolean {
    return typeof this.source !== 'number';
  }

  /** Resolves `value` for the step `step` (a no-op for a constant). */
  resolve(step: number, owner: string): void {
    if (typeof this.source === 'number') return;
    this.hyper.resolve(this.source, step, owner, this.name);
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
