// A custom optimizer built on the exported SIMD primitives (`kernels.*`), so it runs at kernel
// speed without any AssemblyScript: SGD with dampened momentum, m = beta*m + (1-beta)*g; w -= lr*m.
import { kernels, Optimizer, registerClass, type Config, type OptimizerOptions, type Variable } from 'wasm-optim';

export interface DampenedMomentumOptions extends OptimizerOptions {
  /** Momentum coefficient in [0, 1). Default 0.9. */
  beta?: number;
}

export class DampenedMomentum extends Optimizer {
  static override readonly className = 'DampenedMomentum';
  static override readonly optionNames = ['beta']; // the options it adds: any other key is refused
  readonly beta: number;

  constructor(options: DampenedMomentumOptions = {}) {
    super({ learningRate: 0.01, ...options });
    const beta = options.beta ?? 0.9;
    if (!(beta >= 0 && beta < 1)) throw new RangeError(`DampenedMomentum: beta must be in [0, 1), got ${beta}`);
    this.beta = beta;
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) this.addVariableFromReference(v, 'momentum');
  }

  override updateStep(gradient: Float32Array, variable: Variable, learningRate: number): void {
    const m = this.getSlot(variable, 'momentum').value;
    kernels.ema(m, gradient, this.beta); // m = beta*m + (1-beta)*g, one SIMD pass
    kernels.axpy(variable.value, m, -learningRate); // w += -lr*m, one SIMD pass
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta: this.beta };
  }
}
registerClass(DampenedMomentum);
