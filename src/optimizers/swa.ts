import { type Optimizer } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { OptimizerWrapper } from './wrapper.js';

export interface SWAOptions {
  /** Default 0: the 0-based update after which the first snapshot is taken (TFA's start_averaging). */
  startStep?: number;
  /** TensorFlow Addons' name for `startStep`; give one or the other. */
  startAveraging?: number;
  /** Default 10, >= 1: a snapshot every this many updates after startStep. */
  averagePeriod?: number;
  name?: string;
}

/**
 * Stochastic Weight Averaging (Izmailov et al. 2018), as TensorFlow Addons' SWA: after update
 * number `startStep` (0-based, counting the inner optimizer's real updates) and every
 * `averagePeriod` updates after it, the running mean of the weight snapshots (slot 'average') takes
 * the new weights: avg = (avg * n + w) / (n + 1), n = snapshots so far. Training itself is not
 * changed; `finalizeVariableValues()` copies the averages into the weights at the end.
 * Every variable the wrapper has built is averaged at a snapshot (TFA only averages the ones with
 * a gradient in that step), and an average starts as a copy of its variable rather than zeros, so
 * a variable first seen after averaging began is not pulled toward 0.
 */
export class SWA extends OptimizerWrapper {
  static override readonly className: string = 'SWA';
  static override readonly optionNames: readonly string[] = ['startStep', 'startAveraging', 'averagePeriod'];
  readonly startStep: number;
  readonly averagePeriod: number;
  protected readonly slotName = 'average';

  constructor(inner: Optimizer, options: SWAOptions = {}) {
    super(inner, options);
    const { startStep, startAveraging } = options;
    if (startStep !== undefined && startAveraging !== undefined && startStep !== startAveraging) {
      throw new RangeError(`SWA: startStep (${String(startStep)}) and startAveraging (${String(startAveraging)}) are the same option; give one`);
    }
    const startName = startStep === undefined && startAveraging !== undefined ? 'startAveraging' : 'startStep';
    this.startStep = checkNumber(`SWA: ${startName}`, startStep ?? startAveraging ?? 0, { min: 0, integer: true });
    this.averagePeriod = checkNumber('SWA: averagePeriod', options.averagePeriod ?? 10, { min: 1, integer: true });
  }

  /** Snapshots averaged so far (derived from the inner optimizer's iterations). */
  get snapshots(): number {
    const it = this.iterations;
    return it > this.startStep ? Math.floor((it - 1 - this.startStep) / this.averagePeriod) + 1 : 0;
  }

  protected override afterInnerUpdate(_pairs: unknown, step: number): void {
    const it = step - 1; // the 0-based number of the update just applied
    if (it < this.startStep || (it - this.startStep) % this.averagePeriod !== 0) return;
    const n = (it - this.startStep) / this.averagePeriod;
    const keep = n / (n + 1);
    for (let i = 0; i < this.tracked.length; i++) {
      const v = this.tracked[i];
      const avg = this.slots[i];
      if (!v.disposed && !avg.disposed) v.heap.kernels.ema(avg.ptr, v.ptr, v.size, keep);
    }
  }

  /**
   * The inner optimizer's finalization (its EMA, if any), then the SWA averages into the weights,
   * once at least one snapshot has been taken (before that there is nothing to average).
   */
  override finalizeVariableValues(variables?: readonly Variable[]): void {
    super.finalizeVariableValues(variables);
    if (this.snapshots === 0) return;
    for (const v of variables ?? this.tracked) {
      const avg = this.slotFor(v);
      if (avg && !v.disposed) v.heap.kernels.copy(v.ptr, avg.ptr, v.size);
    }
  }

  override getConfig(): Config {
    return { ...super.getConfig(), startStep: this.startStep, averagePeriod: this.averagePeriod };
  }
}
registerClass(SWA);
