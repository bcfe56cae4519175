import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { adamStepSize, IO_ALPHA, IO_BETA1, IO_BETA2, IO_LR, IO_T, stepSizeIo } from './bias-correction.js';

/** How the sign of g^2 - v is taken: hard `sign` (the paper) or the smooth tanh(10 x). */
export type YogiActivation = 'sign' | 'tanh';

export interface YogiOptions extends OptimizerOptions {
  /** Default 0.01. */
  learningRate?: OptimizerOptions['learningRate'];
  /** Default 0.9, in [0, 1); 0 drops the first moment (no 'm' slot). */
  beta1?: LearningRate;
  /** Default 0.999, in [0, 1). */
  beta2?: number;
  /** Default 1e-3; added to sqrt(v). */
  epsilon?: number;
  /** Default 0, >= 0: L1 strength of the proximal step. */
  l1RegularizationStrength?: number;
  /** Default 0, >= 0: L2 strength of the proximal step. */
  l2RegularizationStrength?: number;
  /** Default 1e-6, >= 0: the starting value of v. */
  initialAccumulatorValue?: number;
  /** Default 'sign'. */
  activation?: YogiActivation;
}

/**
 * Yogi, as TensorFlow Addons' (option names in camelCase, same defaults): Adam whose second
 * moment moves additively, v -= (1 - b2) sign(v - g^2) g^2, followed by TFA's proximal L1/L2
 * step. Sparse gradients take the dense update with zero rows (the base class's default).
 */
export class Yogi extends Optimizer {
  static override readonly className: string = 'Yogi';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'epsilon', 'l1RegularizationStrength', 'l2RegularizationStrength', 'initialAccumulatorValue', 'activation'];
  static override readonly fusesPipeline: boolean = true;
  private readonly b1: ScheduledOption;

  /** Default 0.9, in [0, 1); 0 keeps no first moment. A schedule's value is the one the next update uses. */
  get beta1(): number {
    return this.optionValue(this.b1);
  }

  /** The schedule (or function of the step) given as beta1, if any. */
  get beta1Schedule(): LearningRateSchedule | ((step: number) => number) | null {
    return this.optionSchedule(this.b1);
  }
  readonly beta2: number;
  readonly epsilon: number;
  readonly l1RegularizationStrength: number;
  readonly l2RegularizationStrength: number;
  readonly initialAccumulatorValue: number;
  readonly activation: YogiActivation;

  constructor(options: YogiOptions = {}) {
    // A non-object goes to the base class as is, to be refused there (spreading it would hide it).
    super(options === null || typeof options !== 'object' ? options : { learningRate: 0.01, ...options });
    const name = this.getClassName();
    this.b1 = this.scheduledOption('beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.999, { min: 0, max: 1, maxExclusive: true });
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-3, { min: 0 });
    this.l1RegularizationStrength = checkNumber(`${name}: l1RegularizationStrength`, options.l1RegularizationStrength ?? 0, { min: 0 });
    this.l2RegularizationStrength = checkNumber(`${name}: l2RegularizationStrength`, options.l2RegularizationStrength ?? 0, { min: 0 });
    this.initialAccumulatorValue = checkNumber(`${name}: initialAccumulatorValue`, options.initialAccumulatorValue ?? 1e-6, { min: 0 });
    const act = options.activation ?? 'sign';
    if (act !== 'sign' && act !== 'tanh') throw new RangeError(`${name}: activation must be 'sign' or 'tanh', got ${String(act)}`);
    this.activation = act;
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      if (this.b1.scheduled || this.b1.value > 0) this.addVariableFromReference(v, 'm');
      this.addVariableFromReference(v, 'v', this.initialAccumulatorValue);
    }
  }

  /** adamStepSize's inputs and result (./bias-correction.ts). */
  private readonly io = stepSizeIo();

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    // TFA's float32 ops (its betas are float32 tensors), one fround per op.
    const b1 = Math.fround(this.b1.value);
    const b2 = Math.fround(this.beta2);
    const io = this.io;
    io[IO_LR] = lr;
    io[IO_BETA1] = b1;
    io[IO_BETA2] = b2;
    io[IO_T] = t;
    adamStepSize(io);
    const alpha = io[IO_ALPHA];
    const m = this.b1.scheduled || this.b1.value > 0 ? this.getSlot(variable, 'm').ptr : 0;
    variable.heap.kernels.yogi(
      variable.ptr, gradient.byteOffset, m, this.getSlot(variable, 'v').ptr, variable.size,
      Math.fround(1 - b1), Math.fround(1 - b2), alpha, this.epsilon,
      this.l1RegularizationStrength, this.l2RegularizationStrength, this.activation === 'tanh' ? 1 : 0, this.pipeline,
    );
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      beta1: this.b1.config(),
      beta2: this.beta2,
      epsilon: this.epsilon,
      l1RegularizationStrength: this.l1RegularizationStrength,
      l2RegularizationStrength: this.l2RegularizationStrength,
      initialAccumulatorValue: this.initialAccumulatorValue,
      activation: this.activation,
    };
  }
}
registerClass(Yogi);
