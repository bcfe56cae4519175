import { Optimizer, type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';

export interface AdamaxOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Adamax (the infinity-norm Adam variant), as Keras 3's. */
export class Adamax extends Optimizer {
  static override readonly className: string = 'Adamax';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'epsilon'];
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(options: AdamaxOptions = {}) {
    super(options);
    this.beta1 = checkNumber('Adamax: beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
    this.beta2 = checkNumber('Adamax: beta2', options.beta2 ?? 0.999, { min: 0, max: 1 });
    this.epsilon = checkNumber('Adamax: epsilon', options.epsilon ?? 1e-7, { min: 0 });
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.addVariableFromReference(v, 'm');
      this.addVariableFromReference(v, 'u');
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const bc1 = Math.fround(1 - Math.fround(Math.pow(Math.fround(this.beta1), this.iterations + 1)));
    variable.heap.kernels.adamax(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'm').ptr, this.getSlot(variable, 'u').ptr,
      variable.size, 1 - this.beta1, this.beta2, lr, bc1, this.epsilon,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
registerClass(Adamax);
