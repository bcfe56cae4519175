import { type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber, checkOptions, optionalNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { ScheduleFreeOptimizer } from './schedule-free.js';

export interface ScheduleFreeSGDOptions extends Omit<OptimizerOptions, 'weightDecay'> {
  /** Default 1.0 (optax). */
  learningRate?: OptimizerOptions['learningRate'];
  /** optax's `warmup_steps`: the rate rises linearly from 0 over this many steps. Default null (none); an integer >= 1. */
  warmupSteps?: number | null;
  /** optax's `b1`: interpolation between z and x. Default 0.9, in (0, 1]. */
  beta1?: number;
  /**
   * optax's `weight_decay`, with optax's meaning: `weightDecay * y` is added to the gradient, so z
   * moves by `-lr * (g + weightDecay * y)` (not the base class's decoupled decay of the variable).
   * Default null (none); a number >= 0. `excludeFromWeightDecay` applies to it.
   */
  weightDecay?: number | null;
  /** optax's `weight_lr_power`: the averaging weight of a step is max_lr^weightLrPower. Default 2, >= 0. */
  weightLrPower?: number;
}

/**
 * Schedule-Free SGD, as optax's `optax.contrib.schedule_free_sgd`
 * (optax/contrib/_schedule_free.py): one fused kernel pass per variable. The variable holds the
 * training point y and the `z` slot the SGD iterate (it starts as a copy of the variable); the
 * optimizer-level `max_lr` and `weight_sum` drive the averaging weight
 * ck = max_lr^p / sum(max_lr^p). Evaluate at x: `evalParams()` before evaluating, `trainParams()`
 * before training again (see docs/schedule-free.md).
 */
export class ScheduleFreeSGD extends ScheduleFreeOptimizer {
  static override readonly className: string = 'ScheduleFreeSGD';
  static override readonly optionNames: readonly string[] = ['warmupSteps', 'beta1', 'weightLrPower'];
  static override readonly fusesPipeline: boolean = true;
  readonly warmupSteps: number | null;
  readonly beta1: number;
  readonly weightLrPower: number;
  private readonly decay: number | null;
  private maxLr: Variable | null = null;
  private weightSum: Variable | null = null;
  /**
   * This update's SGD rate, ck, 1 - ck, 1 - beta1 (float32) and the decay, set by beforeUpdateSteps: an array, so
   * that updateStep passes only loads to the kernel (a number computed there is boxed whenever V8 leaves the call
   * out of line).
   */
  private readonly scalars = new Float64Array(5);

  constructor(options: ScheduleFreeSGDOptions = {}) {
    const { weightDecay, ...rest } = { ...checkOptions('ScheduleFreeSGD', options) };
    // The decay is optax's (inside the update), so the base class gets none.
    super({ learningRate: 1, ...rest });
    const name = this.getClassName();
    this.decay = optionalNumber(`${name}: weightDecay`, weightDecay, { min: 0, float32: true });
    this.warmupSteps = optionalNumber(`${name}: warmupSteps`, rest.warmupSteps, { min: 1, integer: true });
    this.beta1 = checkNumber(`${name}: beta1`, rest.beta1 ?? 0.9, { min: 0, minExclusive: true, max: 1, float32: true });
    this.weightLrPower = checkNumber(`${name}: weightLrPower`, rest.weightLrPower ?? 2, { min: 0, float32: true });
  }

  /** optax's weight decay (added to the gradient), or null. */
  override get weightDecay(): number | null {
    return this.decay;
  }

  override build(variables: readonly Variable[]): void {
    this.maxLr ??= this.addVariable('max_lr', [1], 0);
    this.weightSum ??= this.addVariable('weight_sum', [1], 0);
    this.buildZ(variables, 'z');
  }

  // optax's schedule_free_eval_params reads b1 from its state, a float32 array: there 1 - b1 is a
  // float32 op (in the update it is a Python float, see updateStep).
  protected override evalCoefficients(): { omb1: number; b1: number } {
    const b1 = Math.fround(this.beta1);
    return { omb1: Math.fround(1 - b1), b1 };
  }

  /** optax's warmup_constant_schedule(0, peak, W) at `count`, in its float32 ops. */
  private warm(peak: number, count: number): number {
    const W = this.warmupSteps as number;
    const frac = Math.fround(1 - Math.fround(Math.min(count, W) / W));
    return Math.fround(Math.fround(-peak * frac) + peak);
  }

  override beforeUpdateSteps(lr: number): void {
    const t = this.iterations + 1;
    // optax: the SGD step uses the schedule at its own count (t - 1), the averaging weight at t.
    const warmup = this.warmupSteps !== null;
    // Computed doubles in both arms: a boxed `lr` in one arm would box the result at every step.
    const peak = Math.fround(lr);
    this.scalars[0] = warmup ? this.warm(peak, t - 1) : peak;
    const weightLr = warmup ? this.warm(peak, t) : peak;
    const maxLr = (this.maxLr as Variable).value;
    const sum = (this.weightSum as Variable).value;
    const m = Math.max(maxLr[0], weightLr); // NaN propagates, as jnp.maximum
    const p = this.weightLrPower;
    const weight = Math.fround(p === 2 ? m * m : Math.pow(m, p));
    const total = Math.fround(sum[0] + weight);
    const q = Math.fround(weight / total);
    // optax: NaN when either is NaN (then so is q), else nan_to_num(weight / total): 0/0 at a zero
    // rate gives 0. Self-comparisons, not Number.isNaN with a NaN arm: that form boxed a number per step.
    this.scalars[1] = q !== q && weight === weight && total === total ? 0 : q;
    this.scalars[2] = Math.fround(1 - this.scalars[1]);
    // optax's `1.0 - b1` is a Python float, rounded to float32 where it meets the arrays.
    this.scalars[3] = Math.fround(1 - this.beta1);
    this.scalars[4] = this.decay ?? 0;
    maxLr[0] = m;
    sum[0] = total;
  }

  override updateStep(gradient: Float32Array, variable: Variable): void {
    const decays = this.decay !== null && this.decaysVariable(variable);
    const S = this.scalars;
    variable.heap.kernels.scheduleFreeSGD(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'z').ptr, variable.size,
      S[0], decays ? 1 : 0, decays ? S[4] : 0, this.beta1, S[3], S[1], S[2], this.pipeline,
    );
  }



  override getConfig(): Config {
    return {
      ...super.getConfig(),
      weightDecay: this.decay,
      warmupSteps: this.warmupSteps,
      beta1: this.beta1,
      weightLrPower: this.weightLrPower,
    };
  }
}
registerClass(ScheduleFreeSGD);
