import { Optimizer, type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';

export interface NadamOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Nadam (Adam with Nesterov momentum and the 0.96-decay momentum schedule), as Keras 3's. */
export class Nadam extends Optimizer {
  static override readonly className: string = 'Nadam';
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** The shared product of momentum coefficients, a float32 optimizer variable as in Keras. */
  private uProduct: Variable | null = null;

  constructor(options: NadamOptions = {}) {
    super(options);
    this.beta1 = checkNumber('Nadam: beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
    this.beta2 = checkNumber('Nadam: beta2', options.beta2 ?? 0.999, { min: 0, max: 1, maxExclusive: true });
    this.epsilon = checkNumber('Nadam: epsilon', options.epsilon ?? 1e-7, { min: 0 });
  }

  override build(variables: readonly Variable[]): void {
    this.uProduct ??= this.addVariable('u_product', [1], 1);
    for (const v of variables) {
      this.addVariableFromReference(v, 'm');
      this.addVariableFromReference(v, 'v');
    }
  }

  private mu(t: number): number {
    return Math.fround(this.beta1 * (1 - 0.5 * Math.pow(0.96, t)));
  }

  override beforeUpdateSteps(): void {
    const p = (this.uProduct as Variable).value;
    p[0] = p[0] * this.mu(this.iterations + 1);
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    const muT = this.mu(t);
    const muNext = this.mu(t + 1);
    const prod = (this.uProduct as Variable).value[0];
    const prodNext = Math.fround(prod * muNext);
    const cm = muNext / (1 - prodNext);
    const cg = (1 - muT) / (1 - prod);
    const ibc2 = 1 / (1 - Math.fround(Math.pow(Math.fround(this.beta2), t)));
    variable.heap.kernels.nadam(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'm').ptr, this.getSlot(variable, 'v').ptr,
      variable.size, 1 - this.beta1, 1 - this.beta2, cm, cg, ibc2, lr, this.epsilon,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
registerClass(Nadam);
