import { checkOptionNames } from '../options.js';
import { type Config } from '../registry.js';
import { checkNumber, type NumberRule } from '../validate.js';

/**
 * Base class of learning-rate schedules. An optimizer given a schedule as `learningRate` calls
 * `call(step)` once per `applyGradients`, with step = the number of applyGradients calls so far
 * (0 on the first update; micro-steps count under gradient accumulation, as in Keras).
 * `call` may compute in float64: the optimizer rounds its result to float32, and throws if it is
 * not a finite number >= 0.
 *
 * Subclass it with a static `className`, `call` and `getConfig`, then `registerClass` it, so that
 * an optimizer config holding the schedule (`{ className, config }`) can be rebuilt:
 * ```ts
 * class Halving extends LearningRateSchedule {
 *   static override readonly className = 'Halving';
 *   constructor(readonly options: { initialLearningRate: number; every: number }) { super(); }
 *   call(step: number): number { return this.options.initialLearningRate / 2 ** Math.floor(step / this.options.every); }
 *   getConfig(): Config { return { ...this.options }; }
 * }
 * registerClass(Halving);
 * ```
 */
/**
 * The method an optimizer reads a schedule through (not part of the public API): writes
 * `call(step)` into `out[0]` and returns null, or returns what `call` gave when it is not a
 * number (the optimizer reports it). Writing into memory instead of returning keeps a changing
 * value unboxed when the call is not inlined (a returned double is a fresh heap number).
 */
export const evaluateInto = Symbol('wasm-optim.evaluateInto');

export abstract class LearningRateSchedule {
  static readonly className: string = 'LearningRateSchedule';
  /**
   * The option names a schedule's constructor reads. The built-in schedules refuse any other key
   * (see `checkScheduleOptions`); a subclass that adds options lists them in its own `optionNames`.
   */
  static readonly optionNames: readonly string[] = [];

  /**
   * The learning rate at `step` (an integer >= 0). It runs every step: allocate nothing in it. The
   * number it returns is itself boxed (16 bytes) when the engine does not inline the call; the
   * built-in schedules compute into memory instead and cost nothing.
   */
  abstract call(step: number): number;

  [evaluateInto](step: number, out: Float64Array): unknown {
    const v: unknown = this.call(step);
    if (typeof v !== 'number') return v;
    out[0] = v;
    return null;
  }

  /** The constructor's options as a JSON-able object: `fromConfig(getConfig())` rebuilds an equal schedule. */
  abstract getConfig(): Config;

  /** Default: `new this(config)`. */
  static fromConfig<T extends LearningRateSchedule>(this: new (config: never) => T, config: Config): T {
    return new this(config as never);
  }

  getClassName(): string {
    return (this.constructor as typeof LearningRateSchedule).className;
  }
}

/**
 * Base of the built-in schedules: each computes its value into memory (`compute`), so a value that
 * changes every step reaches the optimizer unboxed; `call` reads it back for everyone else. A
 * subclass that redefines `call` is honoured: the optimizer then goes through `call` as for any
 * schedule.
 */
export abstract class BuiltinSchedule extends LearningRateSchedule {
  private readonly scratch = new Float64Array(1);
  private readonly direct: boolean;

  constructor() {
    super();
    this.direct = this.call === BuiltinSchedule.prototype.call;
  }

  /** Writes the value at `step` into `out[0]` and returns null (or a child schedule's non-number). */
  protected abstract compute(step: number, out: Float64Array): unknown;

  override call(step: number): number {
    const bad = this.compute(step, this.scratch);
    return bad === null ? this.scratch[0] : (bad as number);
  }

  override [evaluateInto](step: number, out: Float64Array): unknown {
    return this.direct ? this.compute(step, out) : super[evaluateInto](step, out);
  }
}

/**
 * Throws a TypeError naming the first key of `options` that the schedule's class chain does not
 * list in its `optionNames` (Keras raises on unknown arguments too), with "did you mean" for a
 * Keras snake_case spelling: the optimizers' check (src/options.ts), with no base options.
 */
export function checkScheduleOptions(schedule: LearningRateSchedule, where: string, options: object): void {
  checkOptionNames(schedule.constructor, where, options, []);
}

/** A copy of an array argument, read once (its length, then each element), or null for a non-array. */
export function readList(list: unknown): unknown[] | null {
  if (!Array.isArray(list)) return null;
  const n = list.length;
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(list[i]);
  return out;
}

/** Checks each boundary (of a copy from readList) against `rule`, and that they strictly increase. */
export function checkBoundaries(where: string, boundaries: readonly unknown[], rule: NumberRule = {}): void {
  boundaries.forEach((b, i) => {
    checkNumber(`${where}: boundaries[${i}]`, b, rule);
    if (i > 0 && !((b as number) > (boundaries[i - 1] as number))) {
      throw new RangeError(`${where}: boundaries must be strictly increasing, got ${String(boundaries[i - 1])} then ${String(b)} at index ${i}`);
    }
  });
}
