import { type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption, type Scheduled, serializeScheduled } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { OptaxDecayOptimizer } from './optax-decay.js';
import { atUpdateCount } from './optax-count.js';
import { powerF32 } from './bias-correction.js';
import { readStateDtype, roundingSeed, type StateDtype } from '../int8-code.js';
import { QuantizedSlot } from '../quantized-slot.js';

export interface AdEMAMixOptions extends Omit<OptimizerOptions, 'weightDecay'> {
  /** optax's b1: decay of the fast EMA. Default 0.9, in [0, 1). */
  beta1?: number;
  /** optax's b2: decay of the second moment. Default 0.999, in [0, 1). */
  beta2?: number;
  /**
   * optax's b3: decay of the slow EMA, a constant or a schedule of the update count (the paper's
   * beta3 warmup). Default 0.9999, in [0, 1].
   */
  beta3?: LearningRate;
  /** optax's alpha: weight of the slow EMA, a constant or a schedule of the update count (the paper's warmup). Default 5, >= 0. */
  alpha?: LearningRate;
  /** optax's eps, added outside the square root. Default 1e-8. */
  epsilon?: number;
  /** optax's eps_root, added inside the square root. Default 0. */
  epsRoot?: number;
  /**
   * optax's weight_decay (a constant or a schedule), default 0: the update becomes u + wd*w before
   * the learning rate scales it. `excludeFromWeightDecay` plays optax's mask.
   */
  weightDecay?: LearningRate | null;
  /**
   * 'int8' stores m1, m2 and nu blockwise in 8 bits for variables of at least 4,096 elements
   * (docs/int8-state.md); default 'float32'.
   */
  stateDtype?: StateDtype;
}

/**
 * AdEMAMix, as optax's `optax.contrib.ademamix` (optax/contrib/_ademamix.py): Adam's
 * bias-corrected fast EMA plus alpha times a slow, uncorrected EMA (decay beta3) over the Adam
 * denominator; beta3 and alpha may follow schedules of the update count, as optax's (evaluated at
 * its count, also under gradient accumulation). Weight decay in optax's place. One fused kernel
 * pass per variable. `learningRate` has no default in optax; here it is 0.001.
 */
export class AdEMAMix extends OptaxDecayOptimizer {
  static override readonly className: string = 'AdEMAMix';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'beta3', 'alpha', 'epsilon', 'epsRoot', 'stateDtype'];
  static override readonly fusesPipeline: boolean = true;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly epsRoot: number;
  /** How m1, m2 and nu are stored: 'float32' or 'int8' (docs/int8-state.md). */
  readonly stateDtype: StateDtype;
  private readonly b3: ScheduledOption;
  private readonly mix: ScheduledOption;
  /** beta3 and alpha as given (their options hold the update-count wrappers under accumulation). */
  private readonly b3Source: Scheduled;
  private readonly mixSource: Scheduled;

  constructor(options: AdEMAMixOptions = {}) {
    super(options, true);
    const name = this.getClassName();
    const beta = { min: 0, max: 1, maxExclusive: true, float32: true };
    this.beta1 = checkNumber(`${name}: beta1`, options.beta1 ?? 0.9, beta);
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.999, beta);
    const b3 = options.beta3 ?? 0.9999;
    const alpha = options.alpha ?? 5;
    const N = this.gradientAccumulationSteps;
    this.b3 = this.scheduledOption('beta3', atUpdateCount(b3, N), { min: 0, max: 1 });
    this.mix = this.scheduledOption('alpha', atUpdateCount(alpha, N), { min: 0 });
    this.b3Source = b3 as Scheduled;
    this.mixSource = alpha as Scheduled;
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-8, { min: 0, float32: true });
    this.epsRoot = checkNumber(`${name}: epsRoot`, options.epsRoot ?? 0, { min: 0, float32: true });
    this.stateDtype = readStateDtype(name, options.stateDtype);
  }

  /** Default 0.9999. A schedule's value is the one the next update uses. */
  get beta3(): number {
    return this.optionValue(this.b3);
  }

  /** The schedule (or function of the update count) given as beta3, if any. */
  get beta3Schedule(): LearningRateSchedule | ((step: number) => number) | null {
    return typeof this.b3Source === 'number' ? null : this.b3Source;
  }

  /** Default 5. A schedule's value is the one the next update uses. */
  get alpha(): number {
    return this.optionValue(this.mix);
  }

  /** The schedule (or function of the update count) given as alpha, if any. */
  get alphaSchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return typeof this.mixSource === 'number' ? null : this.mixSource;
  }

  override build(variables: readonly Variable[]): void {
    // m1 and m2 are signed EMAs of g, nu an EMA of g^2 (unsigned).
    const dtype = this.stateDtype;
    for (const v of variables) {
      this.addSlot(v, 'm1', { dtype, kind: 'signed' });
      this.addSlot(v, 'm2', { dtype, kind: 'signed' });
      this.addSlot(v, 'nu', { dtype, kind: 'unsigned' });
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    const f = Math.fround;
    // optax: 1 - b in Python floats (a constant) or float32 (a schedule's value, rounded already).
    const b3 = this.b3.value;
    const bc1 = f(1 - powerF32(this.beta1, t));
    const bc2 = f(1 - powerF32(this.beta2, t));
    const decay = this.appliesDecay(variable) ? 1 : 0;
    const K = variable.heap.kernels;
    const m1 = this.getSlot(variable, 'm1');
    const m2 = this.getSlot(variable, 'm2').ptr;
    const nu = this.getSlot(variable, 'nu').ptr;
    if (m1 instanceof QuantizedSlot) {
      K.ademamixInt8(
        variable.ptr, gradient.byteOffset, m1.ptr, m2, nu, variable.size, m1.rowSize,
        this.beta1, 1 - this.beta1, this.beta2, 1 - this.beta2, b3, 1 - b3, this.mix.value, bc1, bc2,
        this.epsilon, this.epsRoot, this.stepWeightDecay(), lr, decay, roundingSeed(t), this.pipeline,
      );
    } else {
      K.ademamix(
        variable.ptr, gradient.byteOffset, m1.ptr, m2, nu, variable.size,
        this.beta1, 1 - this.beta1, this.beta2, 1 - this.beta2, b3, 1 - b3, this.mix.value, bc1, bc2,
        this.epsilon, this.epsRoot, this.stepWeightDecay(), lr, decay, this.pipeline,
      );
    }
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      beta1: this.beta1,
      beta2: this.beta2,
      beta3: serializeScheduled(this.b3Source, 'beta3'),
      alpha: serializeScheduled(this.mixSource, 'alpha'),
      epsilon: this.epsilon,
      epsRoot: this.epsRoot,
      stateDtype: this.stateDtype,
    };
  }
}
registerClass(AdEMAMix);
