import { Optimizer, type OptimizerOptions, type UniqueSparseGradient, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkOptions } from '../validate.js';
import { type Variable } from '../variable.js';
import { readStateDtype, type StateDtype } from '../int8-code.js';
import { QuantizedSlot } from '../quantized-slot.js';

export interface SGDOptions extends OptimizerOptions {
  /** Default 0.01. */
  learningRate?: OptimizerOptions['learningRate'];
  /** In [0, 1]; 0 (the default) means plain SGD with no slot. */
  momentum?: LearningRate;
  nesterov?: boolean;
  /** 'int8' stores the momentum slot in 8 bits (variables of at least 4,096 elements; docs/int8-state.md). Default 'float32'. */
  stateDtype?: StateDtype;
}

/** Stochastic gradient descent with optional (Nesterov) momentum, as Keras 3's SGD. */
export class SGD extends Optimizer {
  static override readonly className: string = 'SGD';
  static override readonly optionNames: readonly string[] = ['momentum', 'nesterov', 'stateDtype'];
  static override readonly fusesPipeline: boolean = true;
  private readonly mom: ScheduledOption;

  /** In [0, 1]; 0 (the default) means plain SGD with no slot. A schedule's value is the one the next update uses. */
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
  readonly nesterov: boolean;
  /** How the momentum slot is stored: 'float32' or 'int8' (docs/int8-state.md). */
  readonly stateDtype: StateDtype;

  constructor(options: SGDOptions = {}) {
    super({ learningRate: 0.01, ...checkOptions('SGD', options) });
    this.mom = this.scheduledOption('momentum', options.momentum ?? 0, { min: 0, max: 1 });
    this.nesterov = checkBoolean('SGD: nesterov', options.nesterov ?? false);
    this.stateDtype = readStateDtype('SGD', options.stateDtype);
  }

  override build(variables: readonly Variable[]): void {
    if (!this.hasMomentum) return;
    for (const v of variables) this.addSlot(v, 'momentum', { dtype: this.stateDtype, kind: 'signed' });
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const K = variable.heap.kernels;
    if (!this.hasMomentum) K.sgd(variable.ptr, gradient.byteOffset, variable.size, lr, this.pipeline);
    else {
      const m = this.getSlot(variable, 'momentum');
      if (m instanceof QuantizedSlot) K.sgdMomentumInt8(variable.ptr, gradient.byteOffset, m.ptr, variable.size, m.rowSize, lr, this.mom.value, this.nesterov ? 1 : 0, this.pipeline);
      else K.sgdMomentum(variable.ptr, gradient.byteOffset, m.ptr, variable.size, lr, this.mom.value, this.nesterov ? 1 : 0, this.pipeline);
    }
  }

  protected override sparseNeedsDenseBuffer(): boolean {
    return this.hasMomentum; // with momentum, updateStepSparse densifies through the base class
  }

  /** Without momentum the update is a row scatter: only the touched rows are read or written. */
  override updateStepSparse(gradient: UniqueSparseGradient, variable: Variable, lr: number): void {
    if (this.hasMomentum) return super.updateStepSparse(gradient, variable, lr);
    const rowSize = variable.size / variable.shape[0];
    variable.heap.kernels.scatterAddRows(variable.ptr, gradient.indices.byteOffset, gradient.values.byteOffset, gradient.indices.length, rowSize, -lr);
  }

  override getConfig(): Config {
    return { ...super.getConfig(), momentum: this.mom.config(), nesterov: this.nesterov, stateDtype: this.stateDtype };
  }
}
registerClass(SGD);
