// Internal access to an optimizer for wrappers, MultiOptimizer, ReduceLROnPlateau and the tfjs
// entry: plain functions, not methods, so that none of it is public API (not exported from the package).
import { type Heap } from '../arena.js';
import { Optimizer } from '../optimizer.js';
import { type PlateauState, type StateEntries } from '../state-input.js';
import { coreOf } from './base-optimizer.js';
import { setPlateauState } from './core.js';

export { addStepHook, setStagedListener, takeStepHooks } from './step.js';

/** Binds an optimizer that registers no variable of its own (a MultiOptimizer) to `heap`. */
export function bindHeap(opt: Optimizer, heap: Heap): void {
  coreOf(opt).heap ??= heap;
}

/** Sets `opt`'s raw call counter (a MultiOptimizer restoring an inner optimizer's). */
export function setRawIterations(opt: Optimizer, iterations: number): void {
  coreOf(opt).rawIterations = iterations;
}

/** The counter behind `nonFiniteSkips` (a MultiOptimizer keeps its inner optimizers' in step). */
export function skipCount(opt: Optimizer): number {
  return coreOf(opt).skips;
}

export function setSkipCount(opt: Optimizer, n: number): void {
  coreOf(opt).skips = n;
}

/**
 * Makes `opt`'s steps divide every gradient by `d` (1: no longer), as its first operation: a
 * LossScaleOptimizer's unscaling, folded into the update kernel where `opt` fuses the pipeline.
 * Only for dense gradients, with no gradient accumulation (see LossScaleOptimizer.step).
 */
export function setGradientDivisor(opt: Optimizer, d: number): void {
  coreOf(opt).divisor[0] = d;
}

/** `opt.restoreEntries(entries)` for wrappers and the tfjs entry. */
export function restoreByName(opt: Optimizer, entries: StateEntries): void {
  opt['restoreEntries'](entries);
}

/** The optimizer whose learning rate a ReduceLROnPlateau scales: a wrapper's innermost, which owns it. */
export function learningRateOwner(opt: Optimizer): Optimizer {
  let o = opt;
  for (let inner = innerOf(o); inner !== null; inner = innerOf(o)) o = inner;
  return o;
}

function innerOf(opt: Optimizer): Optimizer | null {
  const inner: unknown = (opt as { inner?: unknown }).inner;
  return inner instanceof Optimizer ? inner : null;
}

/** A ReduceLROnPlateau's state in `opt` (the learning-rate owner), or null. */
export function plateauOf(opt: Optimizer): PlateauState | null {
  return coreOf(opt).plateau;
}

export function setPlateau(opt: Optimizer, state: PlateauState | null): void {
  setPlateauState(coreOf(opt), state);
}
