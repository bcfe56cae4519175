import { Optimizer, type OptimizerOptions, type UniqueSparseGradient } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { INT8_MIN_ROW, readStateDtype, roundingSeed, type StateDtype } from '../int8-code.js';
import { QuantizedSlot } from '../quantized-slot.js';

export interface AdagradOptions extends OptimizerOptions {
  /** Starting value of every accumulator. Default 0.1, >= 0. */
  initialAccumulatorValue?: number;
  /** Default 1e-7; added INSIDE the sqrt (to the accumulator), as in Keras. */
  epsilon?: number;
  /**
   * 'int8' stores the accumulator in 8 bits (variables of at least 4,096 elements, laid out by
   * row so sparse steps touch only their rows' blocks; docs/int8-state.md). Default 'float32'.
   */
  stateDtype?: StateDtype;
}

/** Adagrad, as Keras 3's. Sparse gradients update only their rows (variable and accumulator). */
export class Adagrad extends Optimizer {
  static override readonly className: string = 'Adagrad';
  static override readonly optionNames: readonly string[] = ['initialAccumulatorValue', 'epsilon', 'stateDtype'];
  static override readonly fusesPipeline: boolean = true;
  readonly initialAccumulatorValue: number;
  readonly epsilon: number;
  /** How the accumulator is stored: 'float32' or 'int8' (docs/int8-state.md). */
  readonly stateDtype: StateDtype;

  constructor(options: AdagradOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.initialAccumulatorValue = checkNumber(`${name}: initialAccumulatorValue`, options.initialAccumulatorValue ?? 0.1, { min: 0 });
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-7, { min: 0 });
    this.stateDtype = readStateDtype(name, options.stateDtype);
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      const rowSize = v.shape.length === 0 ? 1 : v.size / v.shape[0];
      const dtype = rowSize < INT8_MIN_ROW ? 'float32' : this.stateDtype;
      this.addSlot(v, 'accumulator', { dtype, kind: 'unsigned', rowSize, initialValue: this.initialAccumulatorValue });
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const acc = this.getSlot(variable, 'accumulator');
    if (acc instanceof QuantizedSlot) {
      variable.heap.kernels.adagradInt8(variable.ptr, gradient.byteOffset, acc.ptr, variable.size, acc.rowSize, lr, this.epsilon, roundingSeed(this.iterations + 1), this.pipeline);
      return;
    }
    variable.heap.kernels.adagrad(variable.ptr, gradient.byteOffset, this.getSlot(variable, 'accumulator').ptr, variable.size, lr, this.epsilon, this.pipeline);
  }

  /**
   * A row scatter, in time proportional to the rows touched: rows without a gradient would not
   * change in the dense update either (their accumulator gains 0 and their step is 0).
   */
  /** The sparse update touches only the given rows: no dense buffer. */
  protected override sparseNeedsDenseBuffer(): boolean {
    return false;
  }

  override updateStepSparse(gradient: UniqueSparseGradient, variable: Variable, lr: number): void {
    const rowSize = variable.size / variable.shape[0];
    const acc = this.getSlot(variable, 'accumulator');
    if (acc instanceof QuantizedSlot) {
      variable.heap.kernels.adagradRowsInt8(
        variable.ptr, acc.ptr, gradient.indices.byteOffset, gradient.values.byteOffset, gradient.indices.length, rowSize, variable.size,
        lr, this.epsilon, roundingSeed(this.iterations + 1),
      );
      return;
    }
    variable.heap.kernels.adagradRows(
      variable.ptr, this.getSlot(variable, 'accumulator').ptr, gradient.indices.byteOffset, gradient.values.byteOffset,
      gradient.indices.length, rowSize, lr, this.epsilon,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), initialAccumulatorValue: this.initialAccumulatorValue, epsilon: this.epsilon, stateDtype: this.stateDtype };
  }
}
registerClass(Adagrad);
