import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { readStateDtype, roundingSeed, type StateDtype } from '../int8-code.js';
import { QuantizedSlot } from '../quantized-slot.js';

export interface RMSpropOptions extends OptimizerOptions {
  /** Decay of the moving average of squared gradients. Default 0.9, in [0, 1). */
  rho?: number;
  /** Plain (not Nesterov) momentum on the scaled step. Default 0 (no momentum slot), in [0, 1]. */
  momentum?: LearningRate;
  /** Default 1e-7; added INSIDE the sqrt (to the average of squares), as in Keras. */
  epsilon?: number;
  /** Divide by the estimated variance (subtracting the squared mean gradient) instead of the raw second moment. */
  centered?: boolean;
  /**
   * 'int8' stores velocity and momentum in 8 bits (variables of at least 4,096 elements;
   * docs/int8-state.md); not with `centered`. Default 'float32'.
   */
  stateDtype?: StateDtype;
}

/** RMSprop, as Keras 3's: no bias correction, one fused kernel pass per variable. */
export class RMSprop extends Optimizer {
  static override readonly className: string = 'RMSprop';
  static override readonly optionNames: readonly string[] = ['rho', 'momentum', 'epsilon', 'centered', 'stateDtype'];
  static override readonly fusesPipeline: boolean = true;
  readonly rho: number;
  private readonly mom: ScheduledOption;

  /** In [0, 1]; 0 (the default) keeps no momentum slot. A schedule's value is the one the next update uses. */
  get momentum(): number {
    return this.optionValue(this.mom);
  }

  /** A momentum slot is kept: a constant above 0, or a schedule. */
  private get hasMomentum(): boolean {
    return this.mom.scheduled || this.mom.value !== 0;
  }

  /** The schedule (or function of the step) given as momentum, if any. */
  get momentumSchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return this.optionSchedule(this.mom);
  }
  readonly epsilon: number;
  readonly centered: boolean;
  /** How velocity and momentum are stored: 'float32' or 'int8' (docs/int8-state.md). */
  readonly stateDtype: StateDtype;

  constructor(options: RMSpropOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.rho = checkNumber(`${name}: rho`, options.rho ?? 0.9, { min: 0, max: 1, maxExclusive: true });
    this.mom = this.scheduledOption('momentum', options.momentum ?? 0, { min: 0, max: 1 });
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-7, { min: 0 });
    this.centered = checkBoolean(`${name}: centered`, options.centered ?? false);
    this.stateDtype = readStateDtype(name, options.stateDtype);
    if (this.centered && this.stateDtype === 'int8') {
      throw new RangeError(`${name}: centered is not supported with stateDtype 'int8' (v - a^2 of two 8-bit moments, each a few percent off, can be negative); use stateDtype 'float32'`);
    }
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.addSlot(v, 'velocity', { dtype: this.stateDtype, kind: 'unsigned' });
      if (this.hasMomentum) this.addSlot(v, 'momentum', { dtype: this.stateDtype, kind: 'signed' });
      if (this.centered) this.addVariableFromReference(v, 'average_gradient');
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    // Absent slots are passed as pointer 0, which the kernel reads as "option off".
    const avg = this.centered ? this.getSlot(variable, 'average_gradient').ptr : 0;
    const mom = this.hasMomentum ? this.getSlot(variable, 'momentum').ptr : 0;
    const velocity = this.getSlot(variable, 'velocity');
    if (velocity instanceof QuantizedSlot) {
      variable.heap.kernels.rmspropInt8(
        variable.ptr, gradient.byteOffset, velocity.ptr, mom, variable.size, velocity.rowSize,
        this.rho, 1 - this.rho, lr, this.epsilon, this.mom.value, roundingSeed(this.iterations + 1), this.pipeline,
      );
      return;
    }
    variable.heap.kernels.rmsprop(
      variable.ptr, gradient.byteOffset, this.getSlot(variable, 'velocity').ptr, avg, mom, variable.size,
      this.rho, 1 - this.rho, lr, this.epsilon, this.mom.value, this.pipeline,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), rho: this.rho, momentum: this.mom.config(), epsilon: this.epsilon, centered: this.centered, stateDtype: this.stateDtype };
  }
}
registerClass(RMSprop);
