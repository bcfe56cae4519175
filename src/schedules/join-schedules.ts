import { type Config, deserialize, registerClass, type SerializedObject } from '../registry.js';
import { describeValue } from '../validate.js';
import { BuiltinSchedule, checkBoundaries, checkScheduleOptions, evaluateInto, LearningRateSchedule, readList } from './schedule.js';

export interface JoinSchedulesOptions {
  /** The schedules in order, at least one. */
  schedules: readonly LearningRateSchedule[];
  /** Where each later schedule takes over: one fewer than schedules, strictly increasing integers >= 0. */
  boundaries: readonly number[];
}

/**
 * optax's `join_schedules`: `schedules[0](step)` while step < boundaries[0]; from boundaries[i] on
 * (step >= boundary, as optax's `step < boundary` test), `schedules[i + 1](step - boundaries[i])`.
 * Its config holds each schedule as `{ className, config }`.
 */
export class JoinSchedules extends BuiltinSchedule {
  static override readonly className: string = 'JoinSchedules';
  static override readonly optionNames: readonly string[] = ['schedules', 'boundaries'];
  readonly schedules: readonly LearningRateSchedule[];
  readonly boundaries: readonly number[];

  constructor(options: JoinSchedulesOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    // Each list is read once into a copy (length, then each element): a getter or Proxy cannot
    // make the checked elements differ from the ones kept.
    const schedules = readList(options.schedules);
    const boundaries = readList(options.boundaries);
    if (schedules === null || schedules.length === 0) {
      throw new TypeError(`${where}: schedules must be a non-empty array of LearningRateSchedule, got ${schedules === null ? describeValue(options.schedules) : '[]'}`);
    }
    schedules.forEach((s, i) => {
      if (!(s instanceof LearningRateSchedule)) throw new TypeError(`${where}: schedules[${i}] must be a LearningRateSchedule, got ${describeValue(s)}`);
    });
    if (boundaries === null || boundaries.length !== schedules.length - 1) {
      throw new RangeError(
        `${where}: boundaries must be an array with one element fewer than schedules (${schedules.length - 1}), got ${boundaries !== null ? `${boundaries.length} elements` : describeValue(options.boundaries)}`,
      );
    }
    checkBoundaries(where, boundaries, { integer: true, min: 0 });
    this.schedules = Object.freeze(schedules as LearningRateSchedule[]);
    this.boundaries = Object.freeze(boundaries as number[]);
  }

  protected override compute(step: number, out: Float64Array): unknown {
    const b = this.boundaries;
    let i = b.length - 1;
    while (i >= 0 && step < b[i]) i--;
    return i < 0 ? this.schedules[0][evaluateInto](step, out) : this.schedules[i + 1][evaluateInto](step - b[i], out);
  }

  override getConfig(): Config {
    return {
      schedules: this.schedules.map((s) => ({ className: s.getClassName(), config: s.getConfig() })),
      boundaries: [...this.boundaries],
    };
  }

  /** Rebuilds each `{ className, config }` of `config.schedules` through the registry, then the join. */
  static override fromConfig<T extends LearningRateSchedule>(this: new (config: never) => T, config: Config): T {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new TypeError('JoinSchedules.fromConfig: config must be an object');
    const { schedules, ...rest } = config;
    const list = readList(schedules);
    // deserialize reads each element's className and config once and refuses anything else.
    const built = list === null ? schedules : list.map((s) => (s instanceof LearningRateSchedule ? s : deserialize(s as SerializedObject, 'learning-rate schedule')));
    const Join = this as unknown as new (options: { [key: string]: unknown }) => T;
    return new Join({ ...rest, schedules: built });
  }
}
registerClass(JoinSchedules);

/** A join of `schedules` at `boundaries` (optax's `join_schedules`); see JoinSchedules. */
export function joinSchedules(options: JoinSchedulesOptions): JoinSchedules {
  return new JoinSchedules(options);
}

/** A copy of an array, each element read once; null when `list` is not an array. */
