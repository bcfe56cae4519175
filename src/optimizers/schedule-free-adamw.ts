import { type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber, checkOptions } from '../validate.js';
import { type Variable } from '../variable.js';
import { ScheduleFreeOptimizer } from './schedule-free.js';
import { powerF32 } from './bias-correction.js';

export interface ScheduleFreeAdamWOptions extends OptimizerOptions {
  /** Default 0.0025 (Keras). */
  learningRate?: OptimizerOptions['learningRate'];
  /** Interpolation between z and x, and the weight of x in y. Default 0.9, in (0, 1]. A constant (the swap needs it). */
  beta1?: number;
  /** Decay of the second moment. Default 0.999, in [0, 1). */
  beta2?: number;
  /** Added to the bias-corrected sqrt(v). Default 1e-8, >= 0. */
  epsilon?: number;
  /** The learning rate rises linearly from lr/warmupSteps to lr over this many steps. Default 0 (none). */
  warmupSteps?: number;
}

/**
 * Schedule-Free AdamW, as Keras 3.14's `keras.optimizers.ScheduleFreeAdamW`
 * (keras/src/optimizers/schedule_free_adamw.py): one fused kernel pass per variable. The variable
 * holds the training point y and the `momentum` slot the iterate z (it starts as a copy of the
 * variable); `velocity` is Adam's second moment. Weight decay is the base class's decoupled decay of
 * y before the update, as in Keras. Evaluate at x: `evalParams()` before evaluating,
 * `trainParams()` before training again (see docs/schedule-free.md).
 */
export class ScheduleFreeAdamW extends ScheduleFreeOptimizer {
  static override readonly className: string = 'ScheduleFreeAdamW';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'epsilon', 'warmupSteps'];
  static override readonly fusesPipeline: boolean = true;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly warmupSteps: number;

  constructor(options: ScheduleFreeAdamWOptions = {}) {
    super({ learningRate: 0.0025, name: 'schedule_free_adamw', ...checkOptions('ScheduleFreeAdamW', options) });
    const name = this.getClassName();
    this.beta1 = checkNumber(`${name}: beta1`, options.beta1 ?? 0.9, { min: 0, minExclusive: true, max: 1, float32: true });
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.999, { min: 0, max: 1, maxExclusive: true, float32: true });
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-8, { min: 0, float32: true });
    this.warmupSteps = checkNumber(`${name}: warmupSteps`, options.warmupSteps ?? 0, { min: 0, integer: true });
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.buildZ([v], 'momentum');
      this.addVariableFromReference(v, 'velocity');
    }
  }

  protected override evalCoefficients(): { omb1: number; b1: number } {
    const b1 = Math.fround(this.beta1);
    return { omb1: Math.fround(1 - b1), b1 }; // Keras: 1 - beta_1 on the float32 beta_1
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    // Keras' scalars, each a float32 op on the float32-cast hyperparameters.
    const t = this.iterations + 1;
    const W = this.warmupSteps;
    // Both arms are computed doubles (a boxed `lr` in one arm would box the result at every step).
    const rate = W > 0 ? Math.fround(lr * Math.min(Math.fround(t / W), 1)) : Math.fround(lr);
    const b1 = Math.fround(this.beta1);
    const b2 = Math.fround(this.beta2);
    const w = Math.fround(1 / t);
    variable.heap.kernels.scheduleFreeAdamW(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'momentum').ptr, this.getSlot(variable, 'velocity').ptr, variable.size,
      rate, Math.fround(1 - b2), Math.fround(1 - powerF32(b2, t)), this.epsilon, b1, Math.fround(1 - b1), w, Math.fround(1 - w), this.pipeline,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, warmupSteps: this.warmupSteps };
  }
}
registerClass(ScheduleFreeAdamW);
