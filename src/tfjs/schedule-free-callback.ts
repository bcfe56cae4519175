// The model.fit callback that moves a schedule-free optimizer's model between its training point
// y and its evaluation point x (ScheduleFreeAdamW, ScheduleFreeSGD; docs/schedule-free.md).
//
// What tfjs-layers 4.22 gives a callback decides what it can cover: fit calls onTrainBegin,
// onEpochBegin, onBatchBegin, onBatchEnd, onEpochEnd and onTrainEnd, and nothing around its own
// validation (no onTestBegin): that runs inside the last batch, right after its step, at y. So:
// the model holds y from onTrainBegin / onEpochBegin / every onBatchBegin (each step needs y),
// and x from onEpochEnd (callbacks listed after this one, e.g. one that calls model.evaluate or
// model.predict, see x) and after training (onTrainEnd: model.evaluate / predict / save after fit
// use x). Each swap goes through the optimizer, which reads the tfjs variables and writes them back.
import { ScheduleFreeOptimizer } from '../optimizers/schedule-free.js';
import { describeValue } from '../validate.js';
import { type FitCallback, type FitLogs } from './callbacks.js';
import { TfjsOptimizer, withTfjsVariables } from './optimizer.js';

/** What `callbacks.scheduleFree` returns: the callback, and the swap for use outside model.fit. */
export interface ScheduleFreeCallback extends FitCallback {
  /** Writes the evaluation point x into the model's variables (idempotent). */
  evalParams(): void;
  /** Puts the training point y back, bit for bit (idempotent). Call it before training without this callback or saving the optimizer. */
  trainParams(): void;
}

const WHERE = 'callbacks.scheduleFree';

class SwapCallback implements ScheduleFreeCallback {
  constructor(private readonly optimizer: TfjsOptimizer<ScheduleFreeOptimizer>) {}

  // Arrow properties: tfjs-layers calls a plain object's hooks with its own `this`.
  readonly evalParams = (): void => {
    const core = this.optimizer.core;
    withTfjsVariables(this.optimizer, 'evalParams', () => core.evalParams());
  };

  readonly trainParams = (): void => {
    const core = this.optimizer.core;
    withTfjsVariables(this.optimizer, 'trainParams', () => core.trainParams());
  };

  setParams(): void {}

  /** Called by tfjs-layers only when the callback is not wrapped: checks the model trains with this optimizer. */
  setModel(model: unknown): void {
    const used = typeof model === 'object' && model !== null ? (model as { optimizer?: unknown }).optimizer : undefined;
    if (used !== this.optimizer) throw new Error(`${WHERE}: the model trains with ${describeValue(used)}, not with the optimizer this callback was made for (${this.optimizer.getClassName()})`);
  }

  /** trainParams, only when some variable holds x: the steady-state batch reads and writes nothing. */
  private readonly toTrain = async (): Promise<void> => {
    if (this.optimizer.core.holdsEvalParams) this.trainParams();
  };

  readonly onTrainBegin = this.toTrain;
  readonly onEpochBegin = this.toTrain;
  readonly onBatchBegin = this.toTrain;
  readonly onBatchEnd = async (): Promise<void> => {};
  readonly onEpochEnd = async (_epoch: number, _logs?: FitLogs): Promise<void> => this.evalParams();
  readonly onTrainEnd = async (): Promise<void> => this.evalParams();
}

/**
 * A model.fit callback for a schedule-free optimizer (`optim.scheduleFreeAdamW(...)`,
 * `optim.scheduleFreeSGD(...)`): the model trains at y and holds x at each epoch's end (for the
 * callbacks after this one) and after fit. fit's own validation (validationData,
 * validationSplit) runs inside the last batch with no hook, so its val_* metrics are taken at y.
 */
export function scheduleFree(optimizer: TfjsOptimizer): ScheduleFreeCallback {
  if (!(optimizer instanceof TfjsOptimizer) || !(optimizer.core instanceof ScheduleFreeOptimizer)) {
    const what = optimizer instanceof TfjsOptimizer ? `a ${optimizer.core.getClassName()} optimizer` : describeValue(optimizer);
    throw new TypeError(`${WHERE}: optimizer must be a wasm-optim/tfjs schedule-free optimizer (optim.scheduleFreeAdamW(...), optim.scheduleFreeSGD(...)), the one given to model.compile, got ${what}`);
  }
  return new SwapCallback(optimizer as TfjsOptimizer<ScheduleFreeOptimizer>);
}
