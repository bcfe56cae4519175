import { Optimizer, type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';

export interface AdadeltaOptions extends OptimizerOptions {
  /** Default 0.001 (Keras' default; the original paper's form is learningRate 1.0). */
  learningRate?: OptimizerOptions['learningRate'];
  /** Decay of both moving averages (squared gradients and squared updates). Default 0.95, in [0, 1). */
  rho?: number;
  /** Default 1e-7; added inside both square roots. */
  epsilon?: number;
}

/** Adadelta, as Keras 3's (with a learning rate): one fused kernel pass per variable. */
export class Adadelta extends Optimizer {
  static override readonly className: string = 'Adadelta';
  static override readonly optionNames: readonly string[] = ['rho', 'epsilon'];
  static override readonly fusesPipeline: boolean = true;
  readonly rho: number;
  readonly epsilon: number;

  constructor(options: AdadeltaOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.rho = checkNumber(`${name}: rho`, options.rho ?? 0.95, { min: 0, max: 1, maxExclusive: true });
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-7, { min: 0 });
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.addVariableFromReference(v, 'accumulated_grad');
      this.addVariableFromReference(v, 'accumulated_delta_var');
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    variable.heap.kernels.adadelta(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'accumulated_grad').ptr,
      this.getSlot(variable, 'accumulated_delta_var').ptr, variable.size, this.rho, 1 - this.rho, lr, this.epsilon, this.pipeline,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), rho: this.rho, epsilon: this.epsilon };
  }
}
registerClass(Adadelta);
