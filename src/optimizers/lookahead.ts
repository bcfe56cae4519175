import { type GradientVariablePair, type Optimizer } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { OptimizerWrapper } from './wrapper.js';

export interface LookaheadOptions {
  /** Default 6: every this many real updates the weights are synchronized with the slow weights. */
  syncPeriod?: number;
  /** Default 0.5, in [0, 1]: how far the slow weights move toward the fast ones at a sync. */
  slowStepSize?: number;
  name?: string;
}

/**
 * Lookahead (Zhang et al. 2019; TensorFlow Addons' option names in camelCase, same defaults):
 * the inner optimizer moves the ("fast") weights; every `syncPeriod` real updates, each slow
 * weight (slot 'slow') moves `slowStepSize` of the way toward its fast weight and the fast weight
 * is reset to it. Slow weights start as the weights when the wrapper first sees the variable (before
 * that step; with gradient accumulation, possibly a micro-step). As in the paper,
 * a sync covers every variable the wrapper has built (TFA only syncs the ones with a gradient in
 * that very step). Base-class options (clipping, decay, EMA, ...) go on the inner optimizer.
 */
export class Lookahead extends OptimizerWrapper {
  static override readonly className: string = 'Lookahead';
  static override readonly optionNames: readonly string[] = ['syncPeriod', 'slowStepSize'];
  readonly syncPeriod: number;
  readonly slowStepSize: number;
  protected readonly slotName = 'slow';

  constructor(inner: Optimizer, options: LookaheadOptions = {}) {
    super(inner, options);
    this.syncPeriod = checkNumber('Lookahead: syncPeriod', options.syncPeriod ?? 6, { min: 1, integer: true });
    this.slowStepSize = checkNumber('Lookahead: slowStepSize', options.slowStepSize ?? 0.5, { min: 0, max: 1 });
  }

  /** Every syncPeriod real updates: slow += slowStepSize * (fast - slow), then fast = slow. */
  protected override afterInnerUpdate(_pairs: readonly GradientVariablePair[], step: number): void {
    if (step % this.syncPeriod !== 0) return;
    const keep = 1 - this.slowStepSize;
    for (let i = 0; i < this.tracked.length; i++) {
      const v = this.tracked[i];
      const slow = this.slots[i];
      if (v.disposed || slow.disposed) continue;
      const K = v.heap.kernels;
      K.ema(slow.ptr, v.ptr, v.size, keep); // slow += slowStepSize * (fast - slow)
      K.copy(v.ptr, slow.ptr, v.size);
    }
  }

  override getConfig(): Config {
    return { ...super.getConfig(), syncPeriod: this.syncPeriod, slowStepSize: this.slowStepSize };
  }
}
registerClass(Lookahead);
