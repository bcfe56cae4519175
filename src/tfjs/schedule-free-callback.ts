// The model.fit callback that moves a schedule-free optimizer's model between its training point
// y and its evaluation point x (ScheduleFreeAdamW, ScheduleFreeSGD; docs/schedule-free.md).
//
// What tfjs-layers 4.22 gives a callback decides what it can cover: fit calls onTrainBegin,
// onEpochBegin, onBatchBegin, onBatchEnd, onEpochEnd and onTrainEnd, and nothing around its own
// validation (no onTestBegin): that runs inside the epoch's last batch, right after its step. So:
// the model holds y from onTrainBegin / onEpochBegin / every onBatchBegin (each step needs y); in
// the last batch of an epoch with validation the optimizer swaps to x right after the step (armed
// at that batch's onBatchBegin, the batch count from fit's callback params), so validation runs at
// x; and x stays from onEpochEnd (callbacks listed after this one see x) and after training
// (onTrainEnd: model.evaluate / predict after fit use x). Each swap goes through the optimizer,
// which reads the tfjs variables and writes them back.
import { ScheduleFreeOptimizer } from '../optimizers/schedule-free.js';
import { describeValue } from '../validate.js';
import { type FitCallback, type FitLogs } from './callbacks.js';
import { runAfterNextStep, TfjsOptimizer, withTfjsVariables } from './optimizer.js';

/** What `callbacks.scheduleFree` returns: the callback, and the swap for use outside model.fit. */
export interface ScheduleFreeCallback extends FitCallback {
  /** Writes the evaluation point x into the model's variables (idempotent). */
  evalParams(): void;
  /** Puts the training point y back, bit for bit (idempotent). Call it before training without this callback or saving the optimizer. */
  trainParams(): void;
}

const WHERE = 'callbacks.scheduleFree';

/**
 * The index of the last batch of a model.fit epoch that ends with validation, from the params
 * tfjs-layers gives its callbacks ({ samples, batchSize, steps, doValidation }), or -1. A plain
 * object is wrapped in tfjs-layers' CustomCallback, which holds the params and is `this` in the
 * hooks; unwrapped, setParams stores them here.
 */
function lastValidatedBatch(receiver: unknown): number {
  const p: unknown = typeof receiver === 'object' && receiver !== null ? (receiver as { params?: unknown }).params : undefined;
  if (typeof p !== 'object' || p === null) return -1;
  const { samples, batchSize, steps, doValidation } = p as Record<string, unknown>;
  // steps is set by fitDataset (validation after its last onBatchEnd: not this case).
  if (doValidation !== true || steps != null || typeof samples !== 'number' || typeof batchSize !== 'number' || batchSize <= 0) return -1;
  return Math.ceil(samples / batchSize) - 1;
}

class SwapCallback implements ScheduleFreeCallback {

  // Arrow properties: tfjs-layers calls a plain object's hooks with its own `this`.
  readonly evalParams = (): void => {
    const core = this.optimizer.core;
    withTfjsVariables(this.optimizer, 'evalParams', () => core.evalParams());
  };

  readonly trainParams = (): void => {
    const core = this.optimizer.core;
    withTfjsVariables(this.optimizer, 'trainParams', () => core.trainParams());
  };

  /** fit's callback params when tfjs-layers calls setParams (an unwrapped callback). */
  params: unknown = null;

  setParams(params: unknown): void {
    this.params = params;
  }

  /** Called by tfjs-layers only when the callback is not wrapped: checks the model trains with this optimizer. */
  setModel(model: unknown): void {
    const used = typeof model === 'object' && model !== null ? (model as { optimizer?: unknown }).optimizer : undefined;
    if (used !== this.optimizer) throw new Error(`${WHERE}: the model trains with ${describeValue(used)}, not with the optimizer this callback was made for (${this.optimizer.getClassName()})`);
  }

  /** trainParams, only when some variable holds x: the steady-state batch reads and writes nothing. */
  private readonly toTrain = async (): Promise<void> => {
    if (this.optimizer.core.holdsEvalParams) this.trainParams();
  };

  /** evalParams, unless the model holds x already (since the swap before validation). */
  private readonly toEval = (): void => {
    if (!this.optimizer.core.holdsEvalParams) this.evalParams();
  };

  readonly onTrainBegin = this.toTrain;
  readonly onEpochBegin = this.toTrain;
  readonly onBatchBegin: (batch: number, logs?: FitLogs) => Promise<void>;
  readonly onBatchEnd = async (): Promise<void> => {};

  constructor(private readonly optimizer: TfjsOptimizer<ScheduleFreeOptimizer>) {
    const self = this;
    // Not an arrow function: `this` is the object holding fit's params (see lastValidatedBatch).
    this.onBatchBegin = async function (this: unknown, batch: number): Promise<void> {
      await self.toTrain();
      if (batch === lastValidatedBatch(this)) runAfterNextStep(self.optimizer, self.toEval);
    };
  }
  readonly onEpochEnd = async (_epoch: number, _logs?: FitLogs): Promise<void> => this.toEval();
  readonly onTrainEnd = async (): Promise<void> => this.toEval();
}

/**
 * A model.fit callback for a schedule-free optimizer (`optim.scheduleFreeAdamW(...)`,
 * `optim.scheduleFreeSGD(...)`): the model trains at y, and holds x for fit's validation, at each
 * epoch's end (for the callbacks after this one) and after fit (docs/schedule-free.md).
 */
export function scheduleFree(optimizer: TfjsOptimizer): ScheduleFreeCallback {
  if (!(optimizer instanceof TfjsOptimizer) || !(optimizer.core instanceof ScheduleFreeOptimizer)) {
    const what = optimizer instanceof TfjsOptimizer ? `a ${optimizer.core.getClassName()} optimizer` : describeValue(optimizer);
    throw new TypeError(`${WHERE}: optimizer must be a wasm-optim/tfjs schedule-free optimizer (optim.scheduleFreeAdamW(...), optim.scheduleFreeSGD(...)), the one given to model.compile, got ${what}`);
  }
  return new SwapCallback(optimizer as TfjsOptimizer<ScheduleFreeOptimizer>);
}
