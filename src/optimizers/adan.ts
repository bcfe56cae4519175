import { type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { OptaxDecayOptimizer } from './optax-decay.js';
import { powerF32 } from './bias-correction.js';
import { readStateDtype, roundingSeed, type StateDtype } from '../int8-code.js';
import { QuantizedSlot } from '../quantized-slot.js';

export interface AdanOptions extends Omit<OptimizerOptions, 'weightDecay'> {
  /** optax's b1: decay of the gradient average. Default 0.98, in [0, 1). */
  beta1?: number;
  /** optax's b2: decay of the average of gradient differences. Default 0.92, in [0, 1). */
  beta2?: number;
  /** optax's b3: decay of the second-moment term. Default 0.99, in [0, 1). */
  beta3?: number;
  /** optax's eps, added outside the square root. Default 1e-8. */
  epsilon?: number;
  /** optax's eps_root, added inside the square root. Default 1e-8. */
  epsRoot?: number;
  /**
   * optax's weight_decay (a constant or a schedule), default 0: the update becomes u + wd*w before
   * the learning rate scales it. `excludeFromWeightDecay` plays optax's mask.
   */
  weightDecay?: LearningRate | null;
  /**
   * 'int8' stores m, v, n and the previous gradient blockwise in 8 bits for variables of at least
   * 4,096 elements (docs/int8-state.md); default 'float32'.
   */
  stateDtype?: StateDtype;
}

/**
 * Adan (adaptive Nesterov momentum), as optax's `optax.adan` (optax/_src/alias.py, which chains
 * `scale_by_adan` from optax/_src/transform.py, `add_decayed_weights` and the learning rate):
 * averages of the gradient (m), of the difference from the previous gradient (v) and of the
 * squared Nesterov term (n), bias-corrected. The optimizer's first update takes a zero difference
 * (optax's t == 0); a variable first seen later starts from a zero previous gradient. Weight
 * decay in optax's place (see OptaxDecayOptimizer). One fused kernel pass per variable.
 * `stateDtype: 'int8'` stores the four slots, the previous gradient included, in 8 bits
 * (docs/int8-state.md, which measures why the previous gradient may be quantized).
 * `learningRate` has no default in optax; here it is 0.001.
 */
export class Adan extends OptaxDecayOptimizer {
  static override readonly className: string = 'Adan';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'beta3', 'epsilon', 'epsRoot', 'stateDtype'];
  static override readonly fusesPipeline: boolean = true;
  readonly beta1: number;
  readonly beta2: number;
  readonly beta3: number;
  readonly epsilon: number;
  readonly epsRoot: number;
  /** How the four slots are stored: 'float32' or 'int8' (docs/int8-state.md). */
  readonly stateDtype: StateDtype;

  constructor(options: AdanOptions = {}) {
    super(options, true);
    const name = this.getClassName();
    const beta = { min: 0, max: 1, maxExclusive: true, float32: true };
    this.beta1 = checkNumber(`${name}: beta1`, options.beta1 ?? 0.98, beta);
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.92, beta);
    this.beta3 = checkNumber(`${name}: beta3`, options.beta3 ?? 0.99, beta);
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-8, { min: 0, float32: true });
    this.epsRoot = checkNumber(`${name}: epsRoot`, options.epsRoot ?? 1e-8, { min: 0, float32: true });
    this.stateDtype = readStateDtype(name, options.stateDtype);
  }

  override build(variables: readonly Variable[]): void {
    const dtype = this.stateDtype;
    for (const v of variables) {
      // m, v and the previous gradient are signed; n, an average of squares, is not.
      this.addSlot(v, 'm', { dtype, kind: 'signed' });
      this.addSlot(v, 'v', { dtype, kind: 'signed' });
      this.addSlot(v, 'n', { dtype, kind: 'unsigned' });
      this.addSlot(v, 'previous_gradient', { dtype, kind: 'signed' });
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    // optax: 1 - b (Python floats, rounded once to float32) and 1 - b^t in float32.
    const f = Math.fround;
    const bc1 = f(1 - powerF32(this.beta1, t));
    const bc2 = f(1 - powerF32(this.beta2, t));
    const bc3 = f(1 - powerF32(this.beta3, t));
    const K = variable.heap.kernels;
    const ms = this.getSlot(variable, 'm');
    const m = ms.ptr;
    const v = this.getSlot(variable, 'v').ptr;
    const n = this.getSlot(variable, 'n').ptr;
    const gp = this.getSlot(variable, 'previous_gradient').ptr;
    const first = t === 1 ? 1 : 0;
    const decay = this.appliesDecay(variable) ? 1 : 0;
    if (ms instanceof QuantizedSlot) {
      K.adanInt8(
        variable.ptr, gradient.byteOffset, m, v, n, gp, variable.size,
        this.beta1, 1 - this.beta1, this.beta2, 1 - this.beta2, this.beta3, 1 - this.beta3, bc1, bc2, bc3,
        this.epsilon, this.epsRoot, this.stepWeightDecay(), lr, first, decay, roundingSeed(t), this.pipeline,
      );
      return;
    }
    K.adan(
      variable.ptr, gradient.byteOffset, m, v, n, gp, variable.size,
      this.beta1, 1 - this.beta1, this.beta2, 1 - this.beta2, this.beta3, 1 - this.beta3, bc1, bc2, bc3,
      this.epsilon, this.epsRoot, this.stepWeightDecay(), lr, first, decay, this.pipeline,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.beta1, beta2: this.beta2, beta3: this.beta3, epsilon: this.epsilon, epsRoot: this.epsRoot, stateDtype: this.stateDtype };
  }
}
registerClass(Adan);
