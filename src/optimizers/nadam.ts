import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { powerF32 } from './bias-correction.js';

export interface NadamOptions extends OptimizerOptions {
  beta1?: LearningRate;
  beta2?: number;
  epsilon?: number;
}

/** Nadam (Adam with Nesterov momentum and the 0.96-decay momentum schedule), as Keras 3's. */
export class Nadam extends Optimizer {
  static override readonly className: string = 'Nadam';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'epsilon'];
  // beforeUpdateSteps only advances the momentum product (no weight), so the kernel may fuse.
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
  /** The shared product of momentum coefficients, a float32 optimizer variable as in Keras. */
  private uProduct: Variable | null = null;

  constructor(options: NadamOptions = {}) {
    super(options);
    this.b1 = this.scheduledOption('beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
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

  // Every scalar below is Keras' float32 op sequence, one Math.fround per op: Keras casts beta1,
  // beta2 and 0.96 to float32 first, so e.g. v / (1 - beta2^t) cancels exactly at t = 1.
  /** 1 - 0.5 * 0.96^t in float32 (mu_t = beta1 times this). */
  private muFactor(t: number): number {
    return Math.fround(1 - Math.fround(0.5 * Math.fround(Math.pow(Math.fround(0.96), t))));
  }

  override beforeUpdateSteps(): void {
    const p = (this.uProduct as Variable).value;
    // Keras: u_product * beta_1 * (1 - 0.5 * 0.96^t), evaluated left to right (not u_product * mu_t).
    p[0] = Math.fround(Math.fround(p[0] * Math.fround(this.b1.value)) * this.muFactor(this.iterations + 1));
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    const b1 = Math.fround(this.b1.value);
    const b2 = Math.fround(this.beta2);
    const muT = Math.fround(b1 * this.muFactor(t));
    const muNext = Math.fround(b1 * this.muFactor(t + 1));
    const prod = (this.uProduct as Variable).value[0];
    const prodNext = Math.fround(prod * muNext);
    // The kernel multiplies by these quotients where Keras divides each element (see docs/keras-compat.md).
    const cm = Math.fround(muNext / Math.fround(1 - prodNext));
    const cg = Math.fround(Math.fround(1 - muT) / Math.fround(1 - prod));
    const ibc2 = Math.fround(1 / Math.fround(1 - powerF32(b2, t)));
    // 1 - beta is taken from the float32 beta (Keras' beta_1 here is a float32 tensor).
    variable.heap.kernels.nadam(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'm').ptr, this.getSlot(variable, 'v').ptr,
      variable.size, Math.fround(1 - b1), Math.fround(1 - b2), cm, cg, ibc2, lr, this.epsilon, this.pipeline,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.b1.config(), beta2: this.beta2, epsilon: this.epsilon };
  }
}
registerClass(Nadam);
