import { type GradientVariablePair, type Optimizer } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
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
 * is reset to it. Slow weights start as the weights before their first update. As in the paper,
 * a sync covers every variable the wrapper has built (TFA only syncs the ones with a gradient in
 * that very step). Base-class options (clipping, decay, EMA, ...) go on the inner optimizer.
 */
export class Lookahead extends OptimizerWrapper {
  static override readonly className: string = 'Lookahead';
  readonly syncPeriod: number;
  readonly slowStepSize: number;
  protected readonly slotName = 'slow';
  /**
   * Built but not updated yet (by prepare(), or on a micro-step): their slow weights are re-copied
   * before each step, so they are the weights of their first update even if those change meanwhile.
   */
  private readonly pending = new Set<Variable>();

  constructor(inner: Optimizer, options: LookaheadOptions = {}) {
    super(inner, options);
    this.syncPeriod = checkNumber('Lookahead: syncPeriod', options.syncPeriod ?? 6, { min: 1, integer: true });
    this.slowStepSize = checkNumber('Lookahead: slowStepSize', options.slowStepSize ?? 0.5, { min: 0, max: 1 });
  }

  override build(variables: readonly Variable[]): void {
    super.build(variables);
    for (const v of variables) this.pending.add(v);
  }

  protected override beforeInnerStep(): void {
    if (this.pending.size === 0) return;
    for (const v of this.pending) {
      const slow = this.slotFor(v);
      if (!slow || v.disposed) this.pending.delete(v);
      else v.heap.kernels.copy(slow.ptr, v.ptr, v.size);
    }
  }

  protected override afterInnerUpdate(pairs: readonly GradientVariablePair[], step: number): void {
    if (this.pending.size !== 0) {
      for (const [g, v] of pairs) if (g !== null && g !== undefined) this.pending.delete(v);
    }
    if (step % this.syncPeriod !== 0) return;
    const keep = 1 - this.slowStepSize;
    for (let i = 0; i < this.tracked.length; i++) {
      const v = this.tracked[i];
      const slow = this.slots[i];
      if (v.disposed || slow.disposed || (this.pending.size !== 0 && this.pending.has(v))) continue;
      const K = v.heap.kernels;
      K.ema(slow.ptr, v.ptr, v.size, keep); // slow += slowStepSize * (fast - slow)
      K.copy(v.ptr, slow.ptr, v.size);
    }
  }

  protected override afterSetState(): void {
    this.pending.clear(); // the restored slow weights are authoritative
  }

  override getConfig(): Config {
    return { ...super.getConfig(), syncPeriod: this.syncPeriod, slowStepSize: this.slowStepSize };
  }

  override dispose(): void {
    super.dispose();
    this.pending.clear();
  }
}
registerClass(Lookahead);
