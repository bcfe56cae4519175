// The phases of PyTorch's OneCycleLR, shared by OneCycle (the learning rate) and OneCycleMomentum.
import { checkBoolean, checkNumber, describeValue } from '../validate.js';

export type AnnealStrategy = 'cos' | 'linear';

/** The options that place the phases, checked, plus the last step of each phase. */
export interface CyclePhases {
  totalSteps: number;
  pctStart: number;
  annealStrategy: AnnealStrategy;
  threePhase: boolean;
  /** PyTorch's `end_step` of each phase (floats; the first may be negative). */
  ends: readonly number[];
}

/**
 * Checks the phase options (each value already read once by the caller) and computes the phase ends
 * as PyTorch does: `pct_start * total_steps - 1`, then (three phases) `2 * pct_start * total_steps
 * - 2`, then `total_steps - 1`.
 */
export function cyclePhases(where: string, totalSteps: unknown, pctStart: unknown, annealStrategy: unknown, threePhase: unknown): CyclePhases {
  const total = checkNumber(`${where}: totalSteps`, totalSteps, { integer: true, min: 1 });
  const pct = checkNumber(`${where}: pctStart`, pctStart, { min: 0, max: 1 });
  if (annealStrategy !== 'cos' && annealStrategy !== 'linear') {
    throw new RangeError(`${where}: annealStrategy must be 'cos' or 'linear', got ${describeValue(annealStrategy)}`);
  }
  const three = checkBoolean(`${where}: threePhase`, threePhase);
  const first = pct * total - 1;
  // PyTorch computes step 0 when it is built: with a first phase ending at 0 that is 0 / 0
  // (ZeroDivisionError). No other phase of zero length is reached before totalSteps.
  if (first === 0) {
    throw new RangeError(`${where}: pctStart * totalSteps must not be 1 (the first phase would have zero length; PyTorch's OneCycleLR raises ZeroDivisionError), got ${pct} * ${total}`);
  }
  const ends = three ? [first, 2 * pct * total - 2, total - 1] : [first, total - 1];
  return { totalSteps: total, pctStart: pct, annealStrategy: annealStrategy, threePhase: three, ends: Object.freeze(ends) };
}

/**
 * PyTorch's OneCycleLR value after `step` scheduler steps, for phase i annealing from[i] -> to[i].
 * Steps from totalSteps - 1 on hold the value at totalSteps - 1 (the end of the cycle): PyTorch
 * raises past totalSteps and extrapolates its last phase at totalSteps itself.
 */
export function cycleValue(step: number, phases: CyclePhases, from: readonly number[], to: readonly number[], out: Float64Array): void {
  const s = Math.min(step, phases.totalSteps - 1);
  const ends = phases.ends;
  const last = ends.length - 1;
  let start = 0;
  let i = 0;
  for (; i < last && s > ends[i]; i++) start = ends[i];
  out[0] = anneal(from[i], to[i], (s - start) / (ends[i] - start), phases.annealStrategy);
}

function anneal(a: number, b: number, pct: number, strategy: AnnealStrategy): number {
  return strategy === 'cos' ? b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1) : (b - a) * pct + a;
}
