// model.fit callbacks that drive or log the learning rate of a wasm-optim/tfjs optimizer, with
// Keras 3 semantics (keras/src/callbacks). tfjs-layers hands a plain-object callback no model
// (`this.model` is undefined: its CustomCallback's setModel is a no-op), so each callback is bound
// to its optimizer when it is made. This file does not import tfjs-layers: it stays a peer of the
// user's model code only.
import * as tf from '@tensorflow/tfjs-core';
import { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from '../index.js';
import { describeValue } from '../validate.js';
import { TfjsOptimizer } from './optimizer.js';

/** Epoch logs as tfjs-layers passes them: numbers, or scalars when tfjs has not resolved them yet. */
export type FitLogs = Record<string, unknown>;

/**
 * What `model.fit({ callbacks })` accepts: the hooks of tfjs-layers' `CustomCallbackArgs` (a plain
 * object) and the rest of its `BaseCallback` interface, so it also works in an array after a
 * `tf.callbacks.*` instance (tfjs-layers then calls every method itself).
 */
export interface FitCallback {
  setParams(params: unknown): void;
  /** Called by tfjs-layers only when the callback is not wrapped: checks the model trains with the bound optimizer. */
  setModel(model: unknown): void;
  onTrainBegin(logs?: FitLogs): Promise<void>;
  onTrainEnd(logs?: FitLogs): Promise<void>;
  onEpochBegin(epoch: number, logs?: FitLogs): Promise<void>;
  onEpochEnd(epoch: number, logs?: FitLogs): Promise<void>;
  onBatchBegin(batch: number, logs?: FitLogs): Promise<void>;
  onBatchEnd(batch: number, logs?: FitLogs): Promise<void>;
}

/** The key Keras 3 writes the learning rate under in the epoch logs (Keras 2 used `lr`). */
export const LEARNING_RATE_LOG_KEY = 'learning_rate';

function checkOptimizer(where: string, optimizer: unknown): TfjsOptimizer {
  if (!(optimizer instanceof TfjsOptimizer)) {
    throw new TypeError(
      `${where}: optimizer must be a wasm-optim/tfjs optimizer (optim.adam(...), fromCore(...)), the one given to model.compile, got ${describeValue(optimizer)}`,
    );
  }
  return optimizer;
}

/** Names a model's optimizer for an error: tfjs' getClassName() when it has one (read once). */
function describeOptimizer(x: unknown): string {
  const name = typeof x === 'object' && x !== null ? (x as { getClassName?: unknown }).getClassName : undefined;
  if (typeof name !== 'function') return describeValue(x);
  const cls: unknown = (name as () => unknown).call(x);
  return `${x instanceof TfjsOptimizer ? 'another ' : ''}optimizer ${String(cls)}`;
}

const noop = async (): Promise<void> => {};

/** The hooks every callback shares; subclasses replace the ones they use (arrow properties: tfjs-layers calls them with its own `this`). */
abstract class BoundCallback implements FitCallback {
  constructor(
    protected readonly where: string,
    protected readonly optimizer: TfjsOptimizer,
  ) {}

  setParams(): void {}

  setModel(model: unknown): void {
    const used = typeof model === 'object' && model !== null ? (model as { optimizer?: unknown }).optimizer : undefined;
    if (used !== this.optimizer) {
      throw new Error(`${this.where}: the model trains with ${describeOptimizer(used)}, not with the optimizer this callback was made for (${this.optimizer.getClassName()})`);
    }
  }

  onTrainBegin: (logs?: FitLogs) => Promise<void> = noop;
  onTrainEnd: (logs?: FitLogs) => Promise<void> = noop;
  onEpochBegin: (epoch: number, logs?: FitLogs) => Promise<void> = noop;
  onBatchBegin: (batch: number, logs?: FitLogs) => Promise<void> = noop;
  onBatchEnd: (batch: number, logs?: FitLogs) => Promise<void> = noop;

  /** Every callback here adds the learning rate at the end of the epoch, as Keras 3's do. */
  onEpochEnd = async (_epoch: number, logs?: FitLogs): Promise<void> => {
    await this.epochEnd(logs);
    if (typeof logs === 'object' && logs !== null) logs[LEARNING_RATE_LOG_KEY] = this.optimizer.core.learningRate;
  };

  protected async epochEnd(_logs?: FitLogs): Promise<void> {}
}

class LearningRateLogger extends BoundCallback {}

/** `schedule(epoch, currentLearningRate)` returns the learning rate of the epoch. */
export type EpochSchedule = (epoch: number, learningRate: number) => number;

class LearningRateScheduler extends BoundCallback {
  constructor(
    optimizer: TfjsOptimizer,
    private readonly schedule: EpochSchedule,
  ) {
    super('callbacks.learningRateScheduler', optimizer);
    this.checkSettable();
  }

  // Keras refuses to set the learning rate of an optimizer made with a schedule; replacing it silently would lose the schedule.
  private checkSettable(): void {
    const s = this.optimizer.core.learningRateSchedule;
    if (s !== null) {
      throw new TypeError(`${this.where}: the optimizer's learning rate is a schedule (${describeValue(s)}); a schedule per epoch would replace it. Use one or the other`);
    }
  }

  override onEpochBegin = async (epoch: number): Promise<void> => {
    this.checkSettable();
    const core = this.optimizer.core;
    const lr: unknown = this.schedule(epoch, core.learningRate);
    if (typeof lr !== 'number') throw new TypeError(`${this.where}: schedule(${epoch}, ${core.learningRate}) must return a number, got ${describeValue(lr)}`);
    core.learningRate = lr; // the core checks the value (finite, >= 0)
  };
}

/**
 * Keras `LearningRateScheduler`: at the start of each epoch, `schedule(epoch, lr)` (the epoch index
 * from 0, the optimizer's current learning rate) returns the learning rate for that epoch, which is
 * set on `optimizer`. Adds `learning_rate` to the epoch logs.
 */
export function learningRateScheduler(optimizer: TfjsOptimizer, schedule: EpochSchedule): FitCallback {
  const where = 'callbacks.learningRateScheduler';
  const opt = checkOptimizer(where, optimizer);
  if (typeof schedule !== 'function') throw new TypeError(`${where}: schedule must be a function (epoch, learningRate) => number, got ${describeValue(schedule)}`);
  return new LearningRateScheduler(opt, schedule);
}

/** Adds `learning_rate` (the optimizer's learning rate at the end of the epoch) to the epoch logs, as Keras 3's callbacks do. */
export function learningRateLogger(optimizer: TfjsOptimizer): FitCallback {
  return new LearningRateLogger('callbacks.learningRateLogger', checkOptimizer('callbacks.learningRateLogger', optimizer));
}

/** A logged value as a number: tfjs-layers resolves scalars only for wrapped (plain-object) callbacks. */
async function logValue(value: unknown): Promise<unknown> {
  if (value instanceof tf.Tensor && value.size === 1 && !value.isDisposed) return (await value.data())[0];
  return value;
}

/** What `callbacks.reduceLROnPlateau` returns: a callback and the core plateau it drives. */
export interface ReduceLROnPlateauCallback extends FitCallback {
  /** The core ReduceLROnPlateau (its `state`: best, wait, cooldown, scale; kept in the optimizer). */
  readonly plateau: ReduceLROnPlateau;
}

class PlateauCallback extends BoundCallback implements ReduceLROnPlateauCallback {
  readonly plateau: ReduceLROnPlateau;
  private warned = false;

  constructor(optimizer: TfjsOptimizer, options: ReduceLROnPlateauOptions) {
    super('callbacks.reduceLROnPlateau', optimizer);
    this.plateau = new ReduceLROnPlateau(optimizer.core, options);
  }

  protected override async epochEnd(logs?: FitLogs): Promise<void> {
    const monitor = this.plateau.monitor;
    const raw = typeof logs === 'object' && logs !== null ? logs[monitor] : undefined;
    if (raw === undefined || raw === null) {
      // Keras warns (once per call site) and leaves the rate as it is.
      if (!this.warned) {
        this.warned = true;
        console.warn(`${this.where}: learning rate reduction is conditioned on metric \`${monitor}\` which is not available. Available metrics are: ${Object.keys(logs ?? {}).join(',')}`);
      }
      return;
    }
    const value = await logValue(raw);
    if (typeof value !== 'number') throw new TypeError(`${this.where}: logs.${monitor} must be a number, got ${describeValue(value)}`);
    this.plateau.update(value);
  }
}

/**
 * Keras `ReduceLROnPlateau` for model.fit: at each epoch's end, `logs[monitor]` goes to a core
 * `ReduceLROnPlateau` on `optimizer` (options and rule as the core's). Its progress lives in the
 * optimizer, so a model saved with its optimizer and loaded continues the plateau when a callback is
 * made for the loaded optimizer. A missing metric warns once and changes nothing, as in Keras.
 */
export function reduceLROnPlateau(optimizer: TfjsOptimizer, options: ReduceLROnPlateauOptions = {}): ReduceLROnPlateauCallback {
  return new PlateauCallback(checkOptimizer('callbacks.reduceLROnPlateau', optimizer), options);
}

/** `optim.callbacks.*`: model.fit callbacks bound to a wasm-optim/tfjs optimizer. */
export const callbacks = Object.freeze({ learningRateScheduler, learningRateLogger, reduceLROnPlateau });
