import { Optimizer, type OptimizerOptions } from '../optimizer.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber } from '../validate.js';
import { type Variable } from '../variable.js';

export interface AdafactorOptions extends OptimizerOptions {
  /** Default -0.8, <= 0: the second-moment decay is beta2_t = 1 - t^beta2Decay (Keras' beta_2_decay). */
  beta2Decay?: number;
  /** The spelling of `beta2Decay`; give one or the other. */
  betaTwoDecay?: number;
  /** Default 1e-30, added to g^2 before it enters the second moments. */
  epsilon1?: number;
  /** Default 1e-3, the floor of RMS(w) in the step size. */
  epsilon2?: number;
  /** Default 1.0, > 0: the update is scaled down when its RMS exceeds this. */
  clipThreshold?: number;
  /**
   * Default true. Kept for Keras compatibility: Keras already takes min(lr, 1/sqrt(t)) for the
   * step size whatever this says, so it changes nothing.
   */
  relativeStep?: boolean;
}

/**
 * Adafactor, as Keras 3's. Variables of rank >= 2 keep factored second moments over their last
 * two axes: slot 'r' (shape[:-1]) and slot 'c' (shape[:-2] + shape[-1:]), rows + cols floats per
 * matrix instead of rows * cols. Keras also stores the rebuilt full-size v; here it is recomputed
 * in the kernels, which gives the same update. Variables of rank 1 keep a plain slot 'v'.
 */
export class Adafactor extends Optimizer {
  static override readonly className: string = 'Adafactor';
  static override readonly optionNames: readonly string[] = ['beta2Decay', 'betaTwoDecay', 'epsilon1', 'epsilon2', 'clipThreshold', 'relativeStep'];
  static override readonly fusesPipeline: boolean = true;
  readonly beta2Decay: number;
  readonly epsilon1: number;
  readonly epsilon2: number;
  readonly clipThreshold: number;
  readonly relativeStep: boolean;

  constructor(options: AdafactorOptions = {}) {
    super(options);
    const name = this.getClassName();
    const { beta2Decay, betaTwoDecay } = options;
    if (beta2Decay !== undefined && betaTwoDecay !== undefined && beta2Decay !== betaTwoDecay) {
      throw new RangeError(`${name}: beta2Decay (${String(beta2Decay)}) and betaTwoDecay (${String(betaTwoDecay)}) are the same option; give one`);
    }
    const decayName = beta2Decay === undefined && betaTwoDecay !== undefined ? 'betaTwoDecay' : 'beta2Decay';
    this.beta2Decay = checkNumber(`${name}: ${decayName}`, beta2Decay ?? betaTwoDecay ?? -0.8, { max: 0 });
    this.epsilon1 = checkNumber(`${name}: epsilon1`, options.epsilon1 ?? 1e-30, { min: 0 });
    this.epsilon2 = checkNumber(`${name}: epsilon2`, options.epsilon2 ?? 1e-3, { min: 0 });
    this.clipThreshold = checkNumber(`${name}: clipThreshold`, options.clipThreshold ?? 1, { min: 0, minExclusive: true });
    this.relativeStep = checkBoolean(`${name}: relativeStep`, options.relativeStep ?? true);
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      const s = v.shape;
      if (s.length >= 2) {
        this.addVariableFromReference(v, 'r', 0, s.slice(0, -1));
        this.addVariableFromReference(v, 'c', 0, [...s.slice(0, -2), s[s.length - 1]]);
      } else {
        this.addVariableFromReference(v, 'v');
      }
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const t = this.iterations + 1;
    const K = variable.heap.kernels;
    const n = variable.size;
    const p = variable.ptr;
    const g = gradient.byteOffset;
    const pl = this.pipeline;
    // Keras' float32 scalar ops, one fround each (the sums of squares stay f64 until their last rounding).
    const rho = Math.min(lr, Math.fround(1 / Math.fround(Math.sqrt(t))));
    // RMS(w) after the base class's decay (fused: of the weights as the apply pass will decay them;
    // the unfused sumSquares may be split across threads).
    const ww = K.sumSquares(p, n, pl);
    const rms = Math.fround(Math.sqrt(Math.fround(Math.fround(ww) / n)));
    const alpha = Math.fround(Math.max(Math.fround(this.epsilon2), rms) * rho);
    const b = Math.fround(1 - Math.fround(Math.pow(t, Math.fround(this.beta2Decay))));
    const shape = variable.shape;
    const rank = shape.length;
    if (rank >= 2) {
      const cols = shape[rank - 1];
      const rows = shape[rank - 2];
      const nb = n / (rows * cols);
      const r = this.getSlot(variable, 'r').ptr;
      const c = this.getSlot(variable, 'c').ptr;
      K.adafactorFactored(g, r, c, nb, rows, cols, b, Math.fround(1 - b), this.epsilon1, pl);
      const uu = K.adafactorFactoredRms(g, r, c, nb, rows, cols, pl);
      K.adafactorFactoredApply(p, g, r, c, nb, rows, cols, this.stepSize(alpha, uu, n), pl);
    } else {
      const v = this.getSlot(variable, 'v').ptr;
      const uu = K.adafactorVector(g, v, n, b, Math.fround(1 - b), this.epsilon1, pl);
      K.adafactorVectorApply(p, g, v, n, this.stepSize(alpha, uu, n), pl);
    }
  }

  /** alpha_t / max(1, RMS(u) / clipThreshold), from sum(u^2). */
  private stepSize(alpha: number, sumSquares: number, n: number): number {
    const rmsU = Math.fround(Math.sqrt(Math.fround(Math.fround(sumSquares) / n)));
    return Math.fround(alpha / Math.max(1, Math.fround(rmsU / Math.fround(this.clipThreshold))));
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      beta2Decay: this.beta2Decay,
      epsilon1: this.epsilon1,
      epsilon2: this.epsilon2,
      clipThreshold: this.clipThreshold,
      relativeStep: this.relativeStep,
    };
  }
}
registerClass(Adafactor);
