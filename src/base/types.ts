// The base optimizer's public types: options, gradients, saved state. Re-exported by ../optimizer.ts.
import { type Scheduled } from '../hyperparameter.js';
import { type QuantizedState } from '../int8-code.js';
import { type SparseGradient } from '../sparse.js';
import { type PlateauState } from '../state-input.js';
import { type Variable } from '../variable.js';

/** A learning rate: a constant, a schedule, or a function of the step (not serializable). */
export type LearningRate = Scheduled;

/** A dense gradient (same size as the variable), a sparse one, or null to skip the variable. */
export type Gradient = Float32Array | SparseGradient | null | undefined;

/** Keras' (gradient, variable) order. */
export type GradientVariablePair = readonly [Gradient, Variable];

/** Options every optimizer accepts: Keras 3's base-class arguments in camelCase. */
export interface OptimizerOptions {
  learningRate?: LearningRate;
  /**
   * Decoupled weight decay: w -= w * weightDecay * lr before the update. A schedule (or a function
   * of the step) is evaluated at the same step as the learning rate and rounded to float32 alike.
   */
  weightDecay?: LearningRate | null;
  /** Clip each gradient to this L2 norm. At most one of the three clipping options. */
  clipnorm?: number | null;
  /** Clip each gradient element to [-clipvalue, clipvalue]. */
  clipvalue?: number | null;
  /** Clip all gradients together to this global L2 norm. */
  globalClipnorm?: number | null;
  /** Keep an exponential moving average of the weights. */
  useEma?: boolean;
  emaMomentum?: number;
  /** Every this many updates, overwrite the weights with their moving average. */
  emaOverwriteFrequency?: number | null;
  /** Gradients are divided by it (the loss was multiplied by it). */
  lossScaleFactor?: number | null;
  /** Sum gradients over this many calls (>= 2) and update with their mean on the last one. */
  gradientAccumulationSteps?: number | null;
  /**
   * Skip (and count, see `nonFiniteSkips`) any call whose gradients hold NaN or Infinity: nothing
   * changes, not even `iterations`. Off by default: as in Keras, NaNs then propagate into the weights.
   */
  skipNonFinite?: boolean;
  name?: string;
}

/** Optimizer state: the raw call counter and every optimizer variable, keyed by its name. */
export interface OptimizerState {
  className: string;
  /** applyGradients calls so far (micro-steps included). */
  iterations: number;
  /** `quantized`: an 8-bit slot's exact codes and absmax (`values` is then their dequantized copy). */
  variables: Record<string, { shape: number[]; values: Float32Array | number[]; quantized?: QuantizedState }>;
  /** A ReduceLROnPlateau's progress, when one is attached (see ReduceLROnPlateau). */
  plateau?: PlateauState;
}
