import { Optimizer, type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';

export interface LionOptions extends OptimizerOptions {
  /** Weight of the momentum in the signed update. Default 0.9, in (0, 1] (0 would be signSGD). */
  beta1?: number;
  /** Decay of the momentum. Default 0.99, in [0, 1]. */
  beta2?: number;
}

/** Lion (signed momentum), as Keras 3's: one fused kernel pass per variable. */
export class Lion extends Optimizer {
  static override readonly className: string = 'Lion';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2'];
  readonly beta1: number;
  readonly beta2: number;

  constructor(options: LionOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.beta1 = checkNumber(`${name}: beta1`, options.beta1 ?? 0.9, { min: 0, minExclusive: true, max: 1 });
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.99, { min: 0, max: 1 });
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) this.addVariableFromReference(v, 'momentum');
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    variable.heap.kernels.lion(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'momentum').ptr, variable.size,
      // 1 - beta from the float32 beta, as Keras' `1.0 - beta_1` on its float32 cast.
      this.beta1, Math.fround(1 - Math.fround(this.beta1)), this.beta2, Math.fround(1 - Math.fround(this.beta2)), lr,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.beta1, beta2: this.beta2 };
  }
}
registerClass(Lion);
