import { type Config } from '../registry.js';

/**
 * Base class of learning-rate schedules. An optimizer given a schedule as `learningRate` calls
 * `call(step)` once per `applyGradients`, with step = the number of applyGradients calls so far
 * (0 on the first update; micro-steps count under gradient accumulation, as in Keras).
 * Subclass it with a static `className`, `call` and `getConfig`, then `registerClass` it.
 */
export abstract class LearningRateSchedule {
  static readonly className: string = 'LearningRateSchedule';

  abstract call(step: number): number;

  abstract getConfig(): Config;

  /** Default: `new this(config)`. */
  static fromConfig<T extends LearningRateSchedule>(this: new (config: never) => T, config: Config): T {
    return new this(config as never);
  }

  getClassName(): string {
    return (this.constructor as typeof LearningRateSchedule).className;
  }
}
