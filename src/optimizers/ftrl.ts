import { Optimizer, type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';

export interface FtrlOptions extends OptimizerOptions {
  /** How the per-coordinate step shrinks as squared gradients accumulate. Default -0.5, <= 0; 0 is a fixed learning rate. */
  learningRatePower?: number;
  /** Starting value of the accumulators. Default 0.1, >= 0. */
  initialAccumulatorValue?: number;
  /** L1 strength: a weight stays exactly 0 while |linear| <= l1. Default 0, >= 0. */
  l1RegularizationStrength?: number;
  /** L2 stabilization penalty (the paper's). Default 0, >= 0. */
  l2RegularizationStrength?: number;
  /** L2 magnitude penalty added to the gradient (2 * strength * w). Default 0, >= 0. */
  l2ShrinkageRegularizationStrength?: number;
  /** The paper's beta: adds beta / (2 lr) to the L2 strength. Default 0, >= 0. */
  beta?: number;
}

/** FTRL-Proximal, as Keras 3's: one fused kernel pass per variable. */
export class Ftrl extends Optimizer {
  static override readonly className: string = 'Ftrl';
  static override readonly optionNames: readonly string[] = ['learningRatePower', 'initialAccumulatorValue', 'l1RegularizationStrength', 'l2RegularizationStrength', 'l2ShrinkageRegularizationStrength', 'beta'];
  static override readonly fusesPipeline: boolean = true;
  readonly learningRatePower: number;
  readonly initialAccumulatorValue: number;
  readonly l1RegularizationStrength: number;
  readonly l2RegularizationStrength: number;
  readonly l2ShrinkageRegularizationStrength: number;
  readonly beta: number;

  constructor(options: FtrlOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.learningRatePower = checkNumber(`${name}: learningRatePower`, options.learningRatePower ?? -0.5, { max: 0 });
    this.initialAccumulatorValue = checkNumber(`${name}: initialAccumulatorValue`, options.initialAccumulatorValue ?? 0.1, { min: 0 });
    this.l1RegularizationStrength = checkNumber(`${name}: l1RegularizationStrength`, options.l1RegularizationStrength ?? 0, { min: 0 });
    this.l2RegularizationStrength = checkNumber(`${name}: l2RegularizationStrength`, options.l2RegularizationStrength ?? 0, { min: 0 });
    this.l2ShrinkageRegularizationStrength = checkNumber(
      `${name}: l2ShrinkageRegularizationStrength`, options.l2ShrinkageRegularizationStrength ?? 0, { min: 0 },
    );
    this.beta = checkNumber(`${name}: beta`, options.beta ?? 0, { min: 0 });
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.addVariableFromReference(v, 'accumulator', this.initialAccumulatorValue);
      this.addVariableFromReference(v, 'linear');
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    // Keras' 2 * l2' with l2' = l2 + beta / (2 lr); lr = 0 gives NaN/inf weights, as it does in Keras.
    // In Keras' float32 ops: 2 * (l2 + beta / (2 * lr)).
    const q = 2 * Math.fround(Math.fround(this.l2RegularizationStrength) + Math.fround(Math.fround(this.beta) / (2 * lr)));
    variable.heap.kernels.ftrl(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'accumulator').ptr, this.getSlot(variable, 'linear').ptr,
      variable.size, -this.learningRatePower, 1 / lr, this.l1RegularizationStrength, q, 2 * this.l2ShrinkageRegularizationStrength,
      this.pipeline,
    );
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      learningRatePower: this.learningRatePower,
      initialAccumulatorValue: this.initialAccumulatorValue,
      l1RegularizationStrength: this.l1RegularizationStrength,
      l2RegularizationStrength: this.l2RegularizationStrength,
      l2ShrinkageRegularizationStrength: this.l2ShrinkageRegularizationStrength,
      beta: this.beta,
    };
  }
}
registerClass(Ftrl);
