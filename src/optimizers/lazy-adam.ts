import { type UniqueSparseGradient } from '../optimizer.js';
import { registerClass } from '../registry.js';
import { type Variable } from '../variable.js';
import { Adam, type AdamOptions } from './adam.js';
import { INT8_MIN_ROW, roundingSeed, type StateDtype } from '../int8-code.js';
import { IO_ALPHA } from './bias-correction.js';
import { QuantizedSlot } from '../quantized-slot.js';

/**
 * Adam's options; `amsgrad` must stay false (TensorFlow Addons does not support it either). With
 * stateDtype 'int8', 8-bit blocks never straddle rows, so a sparse step requantizes only the
 * touched rows' blocks and every other row's moments keep their bits.
 */
export type LazyAdamOptions = AdamOptions;

/**
 * LazyAdam, as TensorFlow Addons': Adam for dense gradients (the same kernel, so the same bits);
 * for a sparse gradient only the rows it names change: their m, v and weights take Adam's step
 * with the global step's bias corrections, and every other row (moments included) is left as is.
 * The cost is proportional to the rows touched. Gradient accumulation sums into a dense buffer,
 * so accumulated steps are dense Adam steps; weight decay (base class) still reaches every row.
 */
export class LazyAdam extends Adam {
  static override readonly className: string = 'LazyAdam';

  constructor(options: LazyAdamOptions = {}) {
    super(options);
    if (this.amsgrad) throw new RangeError(`${this.getClassName()}: amsgrad is not supported (the lazy update has no running maximum); leave it false`);
  }

  /** The sparse update touches only the given rows: no dense buffer. */
  protected override sparseNeedsDenseBuffer(): boolean {
    return false;
  }

  protected override slotDtype(variable: Variable): StateDtype {
    return variable.size / variable.shape[0] < INT8_MIN_ROW ? 'float32' : this.stateDtype;
  }

  protected override slotRowSize(variable: Variable): number {
    return variable.size / variable.shape[0];
  }

  override updateStepSparse(gradient: UniqueSparseGradient, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    const alpha = this.stepAlpha(lr, t)[IO_ALPHA];
    const rows = gradient.indices;
    const m = this.getSlot(variable, 'm');
    if (m instanceof QuantizedSlot) {
      variable.heap.kernels.lazyAdamRowsInt8(
        variable.ptr, gradient.values.byteOffset, m.ptr, this.getSlot(variable, 'v').ptr,
        rows.byteOffset, rows.length, m.rowSize, variable.size, 1 - this.b1.value, 1 - this.beta2, alpha, this.epsilon, roundingSeed(t),
      );
      return;
    }
    variable.heap.kernels.lazyAdamRows(
      variable.ptr, gradient.values.byteOffset, this.getSlot(variable, 'm').ptr, this.getSlot(variable, 'v').ptr,
      rows.byteOffset, rows.length, variable.size / variable.shape[0], 1 - this.b1.value, 1 - this.beta2, alpha, this.epsilon,
    );
  }
}
registerClass(LazyAdam);
