import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { readStateDtype, roundingSeed, type StateDtype } from '../int8-code.js';
import { adamStepSize, IO_ALPHA, IO_BETA1, IO_BETA2, IO_LR, IO_T, stepSizeIo } from './bias-correction.js';
import { QuantizedSlot } from '../quantized-slot.js';

export interface AdamOptions extends OptimizerOptions {
  /** Default 0.9, in [0, 1). */
  beta1?: LearningRate;
  /** Default 0.999, in [0, 1). */
  beta2?: number;
  /** Default 1e-7; added to sqrt(v) before the bias correction (Keras), not after (PyTorch). */
  epsilon?: number;
  /** Use the running maximum of v (the raw second moment). */
  amsgrad?: boolean;
  /**
   * 'int8' stores m and v (and vhat) blockwise in 8 bits for variables of at least 4,096 elements
   * (docs/int8-state.md); default 'float32'.
   */
  stateDtype?: StateDtype;
}

/** Adam, as Keras 3's: one fused kernel pass per variable. */
export class Adam extends Optimizer {
  static override readonly className: string = 'Adam';
  static override readonly optionNames: readonly string[] = ['beta1', 'beta2', 'epsilon', 'amsgrad', 'stateDtype'];
  static override readonly fusesPipeline: boolean = true;
  protected readonly b1: ScheduledOption;

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
  /** How m and v are stored: 'float32' or 'int8' (docs/int8-state.md). */
  readonly stateDtype: StateDtype;

  constructor(options: AdamOptions = {}) {
    super(options);
    const name = this.getClassName();
    this.b1 = this.scheduledOption('beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
    this.beta2 = checkNumber(`${name}: beta2`, options.beta2 ?? 0.999, { min: 0, max: 1, maxExclusive: true });
    this.epsilon = checkNumber(`${name}: epsilon`, options.epsilon ?? 1e-7, { min: 0 });
    this.amsgrad = checkBoolean(`${name}: amsgrad`, options.amsgrad ?? false);
    this.stateDtype = readStateDtype(name, options.stateDtype);
  }

  /** adamStepSize's inputs and result (./bias-correction.ts). */
  private readonly io = stepSizeIo();

  /** The bias-corrected step size of step t (adamStepSize; LazyAdam's sparse step shares it). */
  protected stepAlpha(lr: number, t: number): Float64Array {
    const io = this.io;
    io[IO_LR] = lr;
    io[IO_BETA1] = this.b1.value;
    io[IO_BETA2] = this.beta2;
    io[IO_T] = t;
    adamStepSize(io);
    return io;
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      const dtype = this.slotDtype(v);
      const rowSize = this.slotRowSize(v);
      this.addSlot(v, 'm', { dtype, kind: 'signed', rowSize });
      this.addSlot(v, 'v', { dtype, kind: 'unsigned', rowSize });
      if (this.amsgrad) this.addSlot(v, 'vhat', { dtype, kind: 'unsigned', rowSize });
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    const alpha = this.stepAlpha(lr, t)[IO_ALPHA];
    const K = variable.heap.kernels;
    const ms = this.getSlot(variable, 'm');
    const m = ms.ptr;
    const v = this.getSlot(variable, 'v').ptr;
    const omb1 = 1 - this.b1.value;
    const omb2 = 1 - this.beta2;
    if (ms instanceof QuantizedSlot) {
      const n = variable.size;
      if (this.amsgrad) K.adamAmsgradInt8(variable.ptr, gradient.byteOffset, m, v, this.getSlot(variable, 'vhat').ptr, n, ms.rowSize, omb1, omb2, alpha, this.epsilon, roundingSeed(t), this.pipeline);
      else K.adamInt8(variable.ptr, gradient.byteOffset, m, v, n, ms.rowSize, omb1, omb2, alpha, this.epsilon, roundingSeed(t), this.pipeline);
    } else if (this.amsgrad) {
      K.adamAmsgrad(variable.ptr, gradient.byteOffset, m, v, this.getSlot(variable, 'vhat').ptr, variable.size, omb1, omb2, alpha, this.epsilon, this.pipeline);
    } else {
      K.adam(variable.ptr, gradient.byteOffset, m, v, variable.size, omb1, omb2, alpha, this.epsilon, this.pipeline);
    }
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.b1.config(), beta2: this.beta2, epsilon: this.epsilon, amsgrad: this.amsgrad, stateDtype: this.stateDtype };
  }

  /** How the slots of `variable` are stored (LazyAdam keeps float32 for narrow rows). */
  protected slotDtype(variable: Variable): StateDtype {
    void variable;
    return this.stateDtype;
  }

  /** The rows 8-bit blocks never straddle: the whole variable (LazyAdam: one row). */
  protected slotRowSize(variable: Variable): number {
    return variable.size;
  }
}
registerClass(Adam);
