import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { powerF32 } from './bias-correction.js';

export interface AdamaxOptions extends OptimizerOptions {
  beta1?: LearningRate;
  beta2?: number;
  epsilon?: number;
}

/** Adamax (the infinity-norm Adam variant), as Keras 3's. */
export class Adamax extends Optimizer {
  static override readonly className: string = 'Adamax';
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

  constructor(options: AdamaxOptions = {}) {
    super(options);
    this.b1 = this.scheduledOption('beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
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
    const bc1 = Math.fround(1 - powerF32(this.b1.value, this.iterations + 1));
    variable.heap.kernels.adamax(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'm').ptr, this.getSlot(variable, 'u').ptr,
      variable.size, 1 - this.b1.value, this.beta2, lr, bc1, this.epsilon, this.pipeline,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.b1.config(), beta2: this.beta2, epsilon: this.epsilon };
  }
}
registerClass(Adamax);
