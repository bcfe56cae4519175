import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { powerF32 } from './bias-correction.js';

export interface RAdamOptions extends OptimizerOptions {
  /** Default 0.9, in [0, 1). */
  beta1?: LearningRate;
  /** Default 0.999, in [0, 1). */
  beta2?: number;
  /** Default 1e-7; added after the bias-corrected sqrt(v). */
  epsilon?: number;
  /** Use the running maximum of v. */
  amsgrad?: boolean;
  /** Default 5, >= 4: the rectified (adaptive) step is taken once the SMA length reaches this. */
  smaThreshold?: number;
  /** Default 0 (off); an integer > 0 enables TFA's built-in warmup then linear decay over this many steps. */
  totalSteps?: number;
  /** Default 0.1, in [0, 1]: the share of totalSteps spent warming up. */
  warmupProportion?: number;
  /** Default 0, >= 0: the learning rate reached at totalSteps. */
  minLr?: number;
}

/**
 * Rectified Adam, as TensorFlow Addons' RectifiedAdam (option names in camelCase, same defaults).
 * While the length of the approximated simple moving average, SMA_t = SMA_inf - 2 t b2^t / (1 - b2^t),
 * is below `smaThreshold` the step is plain momentum (m / (1 - b1^t)); after that it is Adam's
 * direction times the variance rectification r_t.
 *
 * `totalSteps`, `warmupProportion` and `minLr` are implemented: with totalSteps > 0 the learning
 * rate rises linearly to lr over totalSteps * warmupProportion steps, then falls linearly to minLr.
 * TFA's own `weight_decay` is the base class's `weightDecay` here (the same w -= lr * wd * w before
 * the step); one difference remains: with totalSteps > 0 the decay uses the scheduled lr, not the
 * warmed-up one. The per-step scalars are TFA's float32 ops on float32 hyperparameters, one rounding
 * per op (SMA_t cancels in float32, but TFA's threshold test sees that same float32 value).
 * Sparse gradients take the dense update with zero rows (TFA instead leaves
 * untouched weight rows in place while their moments decay).
 */
export class RAdam extends Optimizer {
  static override readonly className: string = 'RAdam';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'epsilon', 'amsgrad', 'smaThreshold', 'totalSteps', 'warmupProportion', 'minLr'];
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
  readonly amsgrad: boolean;
  readonly smaThreshold: number;
  readonly totalSteps: number;
  readonly warmupProportion: number;
  readonly minLr: number;

  constructor(options: RAdamOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.b1 = this.scheduledOption('beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.999, { min: 0, max: 1, maxExclusive: true });
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-7, { min: 0 });
    this.amsgrad = checkBoolean(`${name}: amsgrad`, options.amsgrad ?? false);
    // r_t takes the square root of (SMA_t - 4): below 4 it is not defined.
    this.smaThreshold = checkNumber(`${name}: smaThreshold`, options.smaThreshold ?? 5, { min: 4 });
    this.totalSteps = checkNumber(`${name}: totalSteps`, options.totalSteps ?? 0, { min: 0, integer: true });
    this.warmupProportion = checkNumber(`${name}: warmupProportion`, options.warmupProportion ?? 0.1, { min: 0, max: 1 });
    this.minLr = checkNumber(`${name}: minLr`, options.minLr ?? 0, { min: 0 });
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.addVariableFromReference(v, 'm');
      this.addVariableFromReference(v, 'v');
      if (this.amsgrad) this.addVariableFromReference(v, 'vhat');
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, learningRate: number): void {
    const t = this.iterations + 1;
    // TFA's scalars are float32 tensor ops on float32 hyperparameters: one fround per op, in its order.
    const f = Math.fround;
    const b1 = f(this.b1.value);
    const b2 = f(this.beta2);
    const b1t = powerF32(b1, t);
    const b2t = powerF32(b2, t);
    const omb2 = f(1 - b2);
    const rc1 = f(1 / f(1 - b1t));
    const rc2 = f(1 / f(1 - b2t));
    // fround: a float64 from the start (already float32-valued), so that the reassignment below
    // does not merge with the caller's boxed number and box a new one every warmup step.
    let lr = f(learningRate);
    if (this.totalSteps > 0) {
      // TFA's warmup: rise linearly to lr over `warmup` steps, then fall linearly to minLr.
      const total = f(this.totalSteps);
      const warmup = f(total * f(this.warmupProportion));
      const decaySteps = Math.max(f(total - warmup), 1);
      const rate = f(f(f(this.minLr) - lr) / decaySteps);
      lr = t <= warmup ? f(lr * f(t / warmup)) : f(lr + f(rate * Math.min(f(t - warmup), decaySteps)));
    }
    const smaInf = f(f(2 / omb2) - 1);
    const sma = f(smaInf - f(f(f(2 * t) * b2t) * rc2));
    const adaptive = sma >= f(this.smaThreshold);
    const rect = adaptive ? f(Math.sqrt(f(f(f(f(f(f(sma - 4) / f(smaInf - 4)) * f(sma - 2)) / f(smaInf - 2)) * smaInf) / sma))) : 1;
    const vhat = this.amsgrad ? this.getSlot(variable, 'vhat').ptr : 0;
    variable.heap.kernels.radam(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'm').ptr, this.getSlot(variable, 'v').ptr, vhat,
      variable.size, f(1 - b1), omb2, rc2, f(f(lr * rect) * rc1), this.epsilon, adaptive ? 1 : 0, this.pipeline,
    );
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      beta1: this.b1.config(),
      beta2: this.beta2,
      epsilon: this.epsilon,
      amsgrad: this.amsgrad,
      smaThreshold: this.smaThreshold,
      totalSteps: this.totalSteps,
      warmupProportion: this.warmupProportion,
      minLr: this.minLr,
    };
  }
}
registerClass(RAdam);
