import { type Config, registerClass } from '../registry.js';
import { checkNumber, describeValue } from '../validate.js';
import { checkBoundaries, checkScheduleOptions, BuiltinSchedule, readList } from './schedule.js';

export interface PiecewiseConstantDecayOptions {
  /** Strictly increasing step numbers where the rate changes. */
  boundaries: readonly number[];
  /** One more value than boundaries, each >= 0. */
  values: readonly number[];
}

/**
 * Keras' PiecewiseConstantDecay: `values[0]` while step <= boundaries[0], `values[i]` while
 * boundaries[i-1] < step <= boundaries[i], and the last value once step > the last boundary.
 * (Keras casts the boundaries to the integer step type; for integer steps, comparing with the
 * boundary itself selects the same value.)
 */
export class PiecewiseConstantDecay extends BuiltinSchedule {
  static override readonly className: string = 'PiecewiseConstantDecay';
  static override readonly optionNames: readonly string[] = ['boundaries', 'values'];
  readonly boundaries: readonly number[];
  readonly values: readonly number[];

  constructor(options: PiecewiseConstantDecayOptions) {
    super();
    const where = this.getClassName();
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    checkScheduleOptions(this, where, options);
    // Each list is read once into a copy (length, then each element): a getter or Proxy cannot
    // make the checked values differ from the ones kept.
    const boundaries = readList(options.boundaries);
    const values = readList(options.values);
    if (boundaries === null || boundaries.length === 0) {
      throw new TypeError(`${where}: boundaries must be a non-empty array of step numbers, got ${boundaries === null ? describeValue(options.boundaries) : '[]'}`);
    }
    if (values === null || values.length !== boundaries.length + 1) {
      throw new RangeError(
        `${where}: values must be an array with one more element than boundaries (${boundaries.length + 1}), got ${values !== null ? `${values.length} elements` : describeValue(options.values)}`,
      );
    }
    checkBoundaries(where, boundaries);
    values.forEach((v, i) => checkNumber(`${where}: values[${i}]`, v, { min: 0, float32: true }));
    this.boundaries = Object.freeze(boundaries as number[]);
    this.values = Object.freeze(values as number[]);
  }

  protected override compute(step: number, out: Float64Array): null {
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && step > b[i]) i++;
    out[0] = this.values[i];
    return null;
  }

  override getConfig(): Config {
    return { boundaries: [...this.boundaries], values: [...this.values] };
  }
}
registerClass(PiecewiseConstantDecay);

/** A copy of an array, each element read once; null when `list` is not an array. */
