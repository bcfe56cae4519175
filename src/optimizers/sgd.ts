import { Optimizer, type OptimizerOptions, type UniqueSparseGradient } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber, checkOptions } from '../validate.js';
import { type Variable } from '../variable.js';

export interface SGDOptions extends OptimizerOptions {
  /** Default 0.01. */
  learningRate?: OptimizerOptions['learningRate'];
  /** In [0, 1]; 0 (the default) means plain SGD with no slot. */
  momentum?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent with optional (Nesterov) momentum, as Keras 3's SGD. */
export class SGD extends Optimizer {
  static override readonly className: string = 'SGD';
  static override readonly optionNames: readonly string[] = ['momentum', 'nesterov'];
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(options: SGDOptions = {}) {
    super({ learningRate: 0.01, ...checkOptions('SGD', options) });
    this.momentum = checkNumber('SGD: momentum', options.momentum ?? 0, { min: 0, max: 1 });
    this.nesterov = checkBoolean('SGD: nesterov', options.nesterov ?? false);
  }

  override build(variables: readonly Variable[]): void {
    if (this.momentum === 0) return;
    for (const v of variables) this.addVariableFromReference(v, 'momentum');
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const K = variable.heap.kernels;
    if (this.momentum === 0) K.sgd(variable.ptr, gradient.byteOffset, variable.size, lr);
    else {
      const m = this.getSlot(variable, 'momentum');
      K.sgdMomentum(variable.ptr, gradient.byteOffset, m.ptr, variable.size, lr, this.momentum, this.nesterov ? 1 : 0);
    }
  }

  protected override sparseNeedsDenseBuffer(): boolean {
    return this.momentum !== 0; // with momentum, updateStepSparse densifies through the base class
  }

  /** Without momentum the update is a row scatter: only the touched rows are read or written. */
  override updateStepSparse(gradient: UniqueSparseGradient, variable: Variable, lr: number): void {
    if (this.momentum !== 0) return super.updateStepSparse(gradient, variable, lr);
    const rowSize = variable.size / variable.shape[0];
    variable.heap.kernels.scatterAddRows(variable.ptr, gradient.indices.byteOffset, gradient.values.byteOffset, gradient.indices.length, rowSize, -lr);
  }

  override getConfig(): Config {
    return { ...super.getConfig(), momentum: this.momentum, nesterov: this.nesterov };
  }
}
registerClass(SGD);
