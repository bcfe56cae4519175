import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { powerF32 } from './bias-correction.js';

export interface LambOptions extends OptimizerOptions {
  /** Default 0.9, in [0, 1). */
  beta1?: LearningRate;
  /** Default 0.999, in [0, 1). */
  beta2?: number;
  /** Default 1e-7; added after the bias-corrected sqrt(v) (unlike Adam's). */
  epsilon?: number;
}

/**
 * Lamb, as Keras 3's: Adam's direction scaled per tensor by the trust ratio ||w|| / ||r||.
 * Weight decay is the base class's decoupled decay, applied before the step (so ||w|| is taken
 * after it), as in Keras.
 */
export class Lamb extends Optimizer {
  static override readonly className: string = 'Lamb';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'epsilon'];
  static override readonly fusesPipeline: boolean = true;
  private readonly b1: ScheduledOption;

  /** Default 0.9, in [0, 1). A schedule's value is the one the next update uses. */
  get beta1(): number {
    return this.optionValue(this.b1);
  }

  /** The schedule (or function of the step) given as beta1, if any. */
  get beta1Schedule(): LearningRateSchedule | ((step: number) => number) | null {
    return this.optionSchedule(this.b1);
  }
  readonly beta2: number;
  readonly epsilon: number;

  constructor(options: LambOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.b1 = this.scheduledOption('beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.999, { min: 0, max: 1, maxExclusive: true });
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-7, { min: 0 });
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.addVariableFromReference(v, 'm');
      this.addVariableFromReference(v, 'v');
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    // Keras' float32 1 - beta^t (float32 betas); the kernel multiplies by the reciprocal where Keras divides.
    const c1 = Math.fround(1 / Math.fround(1 - powerF32(this.b1.value, t)));
    const c2 = Math.fround(1 / Math.fround(1 - powerF32(this.beta2, t)));
    const K = variable.heap.kernels;
    const m = this.getSlot(variable, 'm').ptr;
    const v = this.getSlot(variable, 'v').ptr;
    const n = variable.size;
    const pl = this.pipeline;
    // Pass 1 updates the moments and measures ||r||^2; ||w|| is read after the base class's decay
    // (fused: of the weights as the apply pass will decay them; the unfused sumSquares may be split
    // across threads).
    const rr = K.lambMoments(gradient.byteOffset, m, v, n, 1 - this.b1.value, 1 - this.beta2, c1, c2, this.epsilon, pl);
    const ww = K.sumSquares(variable.ptr, n, pl);
    // NaN norms fail both tests and give 1, as Keras' where(norm > 0, ..., 1) does.
    // Keras' norms and ratio are float32 (the sums stay f64 here: exact up to their last rounding).
    const wn = Math.fround(Math.sqrt(Math.fround(ww)));
    const rn = Math.fround(Math.sqrt(Math.fround(rr)));
    const trust = wn > 0 && rn > 0 ? Math.fround(wn / rn) : 1;
    K.lambApply(variable.ptr, m, v, n, c1, c2, this.epsilon, Math.fround(trust * lr), pl);
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.b1.config(), beta2: this.beta2, epsilon: this.epsilon };
  }
}
registerClass(Lamb);
