import { type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber, optionalNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { OptaxDecayOptimizer } from './optax-decay.js';
import { powerF32 } from './bias-correction.js';

export interface ProdigyOptions extends Omit<OptimizerOptions, 'weightDecay'> {
  /** optax's betas[0]: decay of the first moment. Default 0.9, in [0, 1). */
  beta1?: number;
  /** optax's betas[1]: decay of the second moment. Default 0.999, in [0, 1). */
  beta2?: number;
  /** optax's beta3: decay of the d-estimate sums. Default null: sqrt(beta2). In [0, 1]. */
  beta3?: number | null;
  /** optax's eps (scaled by the step-size estimate d in the denominator). Default 1e-8. */
  epsilon?: number;
  /** optax's estim_lr0: the initial (under-)estimate d0 of the step size. Default 1e-6, > 0. */
  estimLr0?: number;
  /** optax's estim_lr_coef: the estimates are multiplied by it. Default 1, >= 0. */
  estimLrCoef?: number;
  /**
   * optax's weight_decay (a constant, no schedule), default 0, in optax's meaning: the update
   * subtracts weightDecay * dlr * w, with dlr = d * lr * sqrt(1 - b2^t) / (1 - b1^t) (AdamW-style,
   * scaled by the estimated step size), not the base class's w * weightDecay * lr.
   * `excludeFromWeightDecay` plays optax's weight_decay_mask.
   */
  weightDecay?: number | null;
  /** optax's safeguard_warmup: leave lr out of the d-estimate's sum of gradients. Default false. */
  safeguardWarmup?: boolean;
}

/** Per grad_sum slot: its variable's partial sums of this update (see afterUpdateSteps). */
interface Partial {
  readonly variable: Variable;
  /** The serial number of the last update that gave the variable a gradient (0: none yet). */
  stamp: number;
  dot: number;
  abs: number;
}

/**
 * Prodigy (learning-rate-free Adam with an estimated step size d), as optax's
 * `optax.contrib.prodigy` (optax/contrib/_prodigy.py): Adam on d*g, with
 * d = max(d, estimLrCoef * nw / sum|s|), where nw and s are beta3-weighted sums of
 * <g, x0 - x> and of the scaled gradients, over the WHOLE model: it keeps a copy of the initial
 * weights (slot params0). The update is two passes: every variable's moments and partial sums in
 * updateStep, then (afterUpdateSteps) d from the sums, in a fixed order (creation order of the
 * slots, float64, four interleaved lanes per variable: the same bits on every run and on the SIMD
 * and scalar paths), and every variable's weight step. Optax's learning rate is a multiplier of d
 * (default 1: use a schedule with 1 as its peak). A variable without a gradient in an update keeps
 * its state, and its sum|s| still counts in d's denominator (optax has no such variable).
 * optax has no growth-rate limit and always bias-corrects (its learning rate includes
 * sqrt(1 - b2^t) / (1 - b1^t)); so does this class.
 */
export class Prodigy extends OptaxDecayOptimizer {
  static override readonly className: string = 'Prodigy';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'beta3', 'epsilon', 'estimLr0', 'estimLrCoef', 'safeguardWarmup'];
  readonly beta1: number;
  readonly beta2: number;
  /** As given: null means sqrt(beta2). */
  readonly beta3: number | null;
  readonly epsilon: number;
  readonly estimLr0: number;
  readonly estimLrCoef: number;
  readonly safeguardWarmup: boolean;
  /** The beta3 in use (optax's beta2**0.5 in Python floats when not given). */
  private readonly b3: number;
  private readonly partials = new WeakMap<Variable, Partial>();
  private estimLr: Variable | null = null;
  private numerator: Variable | null = null;
  // This update's scalars (beforeUpdateSteps). Doubles from the start, assigned, never merged from
  // branches: V8 keeps them unboxed and the step allocates nothing.
  private stepD = 0.5;
  private stepDlr = 0.5;
  private stepCoef = 0.5;
  /** Counts updates of this object (not restored with the state, unlike iterations). */
  private serial = 0;

  constructor(options: ProdigyOptions = {}) {
    super(options, false, 1);
    const name = this.getClassName();
    const beta = { min: 0, max: 1, maxExclusive: true, float32: true };
    this.beta1 = checkNumber(`${name}: beta1`, options.beta1 ?? 0.9, beta);
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.999, beta);
    this.beta3 = optionalNumber(`${name}: beta3`, options.beta3, { min: 0, max: 1, float32: true });
    this.b3 = this.beta3 ?? Math.sqrt(this.beta2);
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-8, { min: 0, float32: true });
    this.estimLr0 = checkNumber(`${name}: estimLr0`, options.estimLr0 ?? 1e-6, { min: 0, minExclusive: true, float32: true });
    this.estimLrCoef = checkNumber(`${name}: estimLrCoef`, options.estimLrCoef ?? 1, { min: 0, float32: true });
    this.safeguardWarmup = checkBoolean(`${name}: safeguardWarmup`, options.safeguardWarmup ?? false);
  }

  /** The current step-size estimate d (optax's estim_lr); estimLr0 before the first update. */
  get estimatedLearningRate(): number {
    return this.estimLr === null || this.estimLr.disposed ? Math.fround(this.estimLr0) : this.estimLr.value[0];
  }

  override build(variables: readonly Variable[]): void {
    // Optimizer-wide state, saved with the rest: optax's estim_lr and numerator_weighted (float32).
    if (this.estimLr === null || this.estimLr.disposed) {
      this.estimLr = this.addVariable('prodigy/estim_lr', [1], Math.fround(this.estimLr0));
      this.numerator = this.addVariable('prodigy/numerator_weighted', [1], 0);
    }
    for (const v of variables) {
      this.addVariableFromReference(v, 'exp_avg');
      this.addVariableFromReference(v, 'exp_avg_sq');
      const s = this.addVariableFromReference(v, 'grad_sum');
      const p0 = this.addVariableFromReference(v, 'params0');
      if (!this.restoredFromState(p0)) p0.value.set(v.value);
      this.partials.set(s, { variable: v, stamp: 0, dot: 0, abs: 0 });
    }
  }

  override beforeUpdateSteps(lr: number): void {
    const f = Math.fround;
    const t = this.iterations + 1;
    const d = (this.estimLr as Variable).value[0];
    // optax: bc = ((1 - b2^t) ** 0.5) / (1 - b1^t); dlr = d * lr * bc, in float32.
    const bc = f(f(Math.sqrt(f(1 - powerF32(this.beta2, t)))) / f(1 - powerF32(this.beta1, t)));
    this.stepD = d;
    this.stepDlr = f(f(d * lr) * bc);
    this.stepCoef = this.stepDlr;
    if (this.safeguardWarmup) this.stepCoef = d;
    this.serial++;
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    void lr;
    const s = this.getSlot(variable, 'grad_sum');
    const K = variable.heap.kernels;
    const partial = this.partials.get(s) as Partial;
    partial.dot = K.prodigyMoments(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'params0').ptr, this.getSlot(variable, 'exp_avg').ptr,
      this.getSlot(variable, 'exp_avg_sq').ptr, s.ptr, variable.size,
      this.stepD, this.beta1, 1 - this.beta1, this.beta2, 1 - this.beta2, this.b3, this.stepCoef, this.estimLr0,
    );
    partial.abs = K.prodigyAbs();
    partial.stamp = this.serial;
  }

  override afterUpdateSteps(lr: number): void {
    void lr;
    const f = Math.fround;
    const serial = this.serial;
    // Every variable's sums in the slots' creation order (this.variables holds them in that order).
    const state = this.variables;
    let dot = 0;
    let den = 0;
    for (let i = 0; i < state.length; i++) {
      const partial = this.partials.get(state[i]);
      if (partial === undefined) continue;
      if (partial.stamp === serial) {
        dot += partial.dot;
        den += partial.abs;
      } else {
        den += state[i].heap.kernels.prodigySumAbs(state[i].ptr, state[i].size);
      }
    }
    const estim = this.estimLr as Variable;
    const numer = this.numerator as Variable;
    const d = this.stepD;
    const dlr = this.stepDlr;
    // optax: nw = b3*nw + (d/d0)*dlr*<g, x0 - x>; d' = max(d, coef*nw / sum|s|) (a NaN stays NaN),
    // float32 ops on the float32 values of its Python-float hyperparameters.
    const nw = f(f(f(this.b3) * numer.value[0]) + f(f(f(d / f(this.estimLr0)) * dlr) * f(dot)));
    const next = f(Math.max(d, f(f(f(this.estimLrCoef) * nw) / f(den))));
    numer.value[0] = nw;
    estim.value[0] = next;
    const ndlr = -dlr;
    const deps = f(next * f(this.epsilon));
    const wdd = f(f(this.stepWeightDecay()) * dlr);
    for (let i = 0; i < state.length; i++) {
      const partial = this.partials.get(state[i]);
      if (partial === undefined || partial.stamp !== serial) continue;
      const v = partial.variable;
      v.heap.kernels.prodigyApply(
        v.ptr, this.getSlot(v, 'exp_avg').ptr, this.getSlot(v, 'exp_avg_sq').ptr, v.size, ndlr, deps, wdd,
        this.decaysVariable(v) ? 1 : 0,
      );
    }
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      beta1: this.beta1,
      beta2: this.beta2,
      beta3: this.beta3,
      epsilon: this.epsilon,
      estimLr0: this.estimLr0,
      estimLrCoef: this.estimLrCoef,
      safeguardWarmup: this.safeguardWarmup,
    };
  }
}
registerClass(Prodigy);
