// A custom optimizer written as a plain TypeScript loop over the wasm-memory views:
// Signum (signSGD with momentum, Bernstein et al. 2018): m = beta*m + (1-beta)*g; w -= lr*sign(m).
import { Optimizer, registerClass, type Config, type OptimizerOptions, type Variable } from 'wasm-optim';

export interface SignumOptions extends OptimizerOptions {
  /** Momentum coefficient in [0, 1). Default 0.9. */
  beta?: number;
}

export class Signum extends Optimizer {
  static override readonly className = 'Signum';
  static override readonly optionNames = ['beta']; // the options it adds: any other key is refused
  readonly beta: number;

  constructor(options: SignumOptions = {}) {
    super({ learningRate: 1e-3, ...options });
    const beta = options.beta ?? 0.9;
    if (!(beta >= 0 && beta < 1)) throw new RangeError(`Signum: beta must be in [0, 1), got ${beta}`);
    this.beta = beta;
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) this.addVariableFromReference(v, 'momentum');
  }

  override updateStep(gradient: Float32Array, variable: Variable, learningRate: number): void {
    // Take the views inside the step: they are re-derived if wasm memory grew since last time.
    const w = variable.value;
    const m = this.getSlot(variable, 'momentum').value;
    const b = this.beta;
    for (let i = 0; i < w.length; i++) {
      m[i] = b * m[i] + (1 - b) * gradient[i];
      w[i] -= learningRate * Math.sign(m[i]);
    }
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta: this.beta };
  }
}
registerClass(Signum);
