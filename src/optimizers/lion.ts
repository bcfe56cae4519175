import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { readStateDtype, roundingSeed, type StateDtype } from '../int8-code.js';
import { QuantizedSlot } from '../quantized-slot.js';

export interface LionOptions extends OptimizerOptions {
  /** Weight of the momentum in the signed update. Default 0.9, in (0, 1] (0 would be signSGD). */
  beta1?: LearningRate;
  /** Decay of the momentum. Default 0.99, in [0, 1]. */
  beta2?: number;
  /** 'int8' stores the momentum slot in 8 bits (variables of at least 4,096 elements; docs/int8-state.md). Default 'float32'. */
  stateDtype?: StateDtype;
}

/** Lion (signed momentum), as Keras 3's: one fused kernel pass per variable. */
export class Lion extends Optimizer {
  static override readonly className: string = 'Lion';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'stateDtype'];
  static override readonly fusesPipeline: boolean = true;
  private readonly b1: ScheduledOption;

  /** Default 0.9, in (0, 1]. A schedule's value is the one the next update uses. */
  get beta1(): number {
    return this.optionValue(this.b1);
  }

  /** The schedule (or function of the step) given as beta1, if any. */
  get beta1Schedule(): LearningRateSchedule | ((step: number) => number) | null {
    return this.optionSchedule(this.b1);
  }
  readonly beta2: number;
  /** How the momentum slot is stored: 'float32' or 'int8' (docs/int8-state.md). */
  readonly stateDtype: StateDtype;

  constructor(options: LionOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.b1 = this.scheduledOption('beta1', options.beta1 ?? 0.9, { min: 0, minExclusive: true, max: 1 });
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.99, { min: 0, max: 1 });
    this.stateDtype = readStateDtype(name, options.stateDtype);
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) this.addSlot(v, 'momentum', { dtype: this.stateDtype, kind: 'signed' });
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const m = this.getSlot(variable, 'momentum');
    if (m instanceof QuantizedSlot) {
      variable.heap.kernels.lionInt8(
        variable.ptr, gradient.byteOffset, m.ptr, variable.size, m.rowSize,
        this.b1.value, Math.fround(1 - Math.fround(this.b1.value)), this.beta2, Math.fround(1 - Math.fround(this.beta2)), lr, roundingSeed(this.iterations + 1), this.pipeline,
      );
      return;
    }
    variable.heap.kernels.lion(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'momentum').ptr, variable.size,
      // 1 - beta from the float32 beta, as Keras' `1.0 - beta_1` on its float32 cast.
      this.b1.value, Math.fround(1 - Math.fround(this.b1.value)), this.beta2, Math.fround(1 - Math.fround(this.beta2)), lr, this.pipeline,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.b1.config(), beta2: this.beta2, stateDtype: this.stateDtype };
  }
}
registerClass(Lion);
