import { Optimizer, type OptimizerOptions } from '../optimizer.js';
import { type ScheduledOption, serializeScheduled } from '../hyperparameter.js';
import { LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber, describeValue } from '../validate.js';
import { type Variable } from '../variable.js';
import { atUpdateCount } from './optax-count.js';

export interface AdoptOptions extends OptimizerOptions {
  /** optax's b1: decay of the average of normalised gradients. Default 0.9, in [0, 1). */
  beta1?: number;
  /** optax's b2: decay of the second moment. Default 0.9999, in [0, 1). */
  beta2?: number;
  /** optax's eps: the floor of sqrt(nu) the gradient is divided by. Default 1e-6. */
  epsilon?: number;
  /** Use Nesterov momentum. Default false. */
  nesterov?: boolean;
  /** Clip the normalised gradient to [-c, c] with c = clipValueFn(step). Default true. */
  useClipping?: boolean;
  /**
   * optax's clip_value_fn: the clipping bound as a function of the update count (0 at the first
   * update), a function or a LearningRateSchedule. Default (null) optax's count^0.25.
   */
  clipValueFn?: LearningRateSchedule | ((step: number) => number) | null;
}

/**
 * ADOPT, as optax's `optax.contrib.adopt` (optax/contrib/_adopt.py): the gradient is divided by
 * the square root of the PREVIOUS second moment (floored at epsilon), clipped to +-count^0.25, and
 * only then averaged into the momentum that is the update. The first update only records g^2 (its
 * step is zero: optax's b1 = 1, b2 = 0 and a clip of 0^0.25 = 0 at count 0). One fused kernel pass
 * per variable. `weightDecay` is the base class's (Keras-style, decoupled, before the update):
 * optax's adopt has none. optax's mu_dtype has no equivalent (slots are float32).
 */
export class Adopt extends Optimizer {
  static override readonly className: string = 'Adopt';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'epsilon', 'nesterov', 'useClipping', 'clipValueFn'];
  static override readonly fusesPipeline: boolean = true;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly nesterov: boolean;
  readonly useClipping: boolean;
  /** The clipValueFn given (null: count^0.25). */
  readonly clipValueFn: LearningRateSchedule | ((step: number) => number) | null;
  private readonly clipOption: ScheduledOption | null;

  constructor(options: AdoptOptions = {}) {
    super(options);
    const name = this.getClassName();
    const beta = { min: 0, max: 1, maxExclusive: true, float32: true };
    this.beta1 = checkNumber(`${name}: beta1`, options.beta1 ?? 0.9, beta);
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.9999, beta);
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-6, { min: 0, float32: true });
    this.nesterov = checkBoolean(`${name}: nesterov`, options.nesterov ?? false);
    this.useClipping = checkBoolean(`${name}: useClipping`, options.useClipping ?? true);
    const fn: unknown = options.clipValueFn ?? null;
    if (fn !== null && !(fn instanceof LearningRateSchedule) && typeof fn !== 'function') {
      throw new TypeError(`${name}: clipValueFn must be a function of the update count or a LearningRateSchedule, got ${describeValue(fn)}`);
    }
    this.clipValueFn = fn as LearningRateSchedule | ((step: number) => number) | null;
    // Its value at each update is checked (finite, >= 0, float32) and rounded like a learning rate's.
    this.clipOption = fn === null ? null : this.scheduledOption('clipValueFn', atUpdateCount(fn, this.gradientAccumulationSteps), { min: 0 });
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.addVariableFromReference(v, 'mu');
      this.addVariableFromReference(v, 'nu');
    }
  }

  // This update's scalars, set by beforeUpdateSteps. Doubles from the start and assigned (never
  // merged from branches) so that V8 keeps them unboxed: the step allocates nothing.
  private stepB1 = 0.5;
  private stepB2 = 0.5;
  private stepClip = 0.5;

  override beforeUpdateSteps(): void {
    const f = Math.fround;
    const count = this.iterations;
    // optax's jnp.where(count > 0, b, first-step value) gives float32 arrays: 1 - b is a float32 op.
    this.stepB1 = 1;
    this.stepB2 = 0;
    if (count > 0) {
      this.stepB1 = f(this.beta1);
      this.stepB2 = f(this.beta2);
    }
    // clip(x, -Infinity, Infinity) is x exactly (NaN included): no clipping.
    this.stepClip = Infinity;
    if (this.useClipping && this.clipOption !== null) this.stepClip = this.clipOption.value;
    if (this.useClipping && this.clipOption === null) this.stepClip = f(Math.pow(count, 0.25));
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const b1 = this.stepB1;
    const b2 = this.stepB2;
    variable.heap.kernels.adopt(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'mu').ptr, this.getSlot(variable, 'nu').ptr, variable.size,
      b1, Math.fround(1 - b1), b2, Math.fround(1 - b2), this.epsilon, this.stepClip, lr, this.nesterov ? 1 : 0, this.pipeline,
    );
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      nesterov: this.nesterov,
      useClipping: this.useClipping,
      clipValueFn: this.clipValueFn === null ? null : serializeScheduled(this.clipValueFn, 'clipValueFn'),
    };
  }
}
registerClass(Adopt);
