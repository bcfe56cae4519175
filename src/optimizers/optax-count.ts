// optax evaluates an optimizer's own schedules (AdEMAMix's b3 and alpha, ADOPT's clip_value_fn) at
// its update count. The base class resolves scheduled options at the applyGradients call count,
// which differs from the update count only under gradient accumulation: there the option is given
// a function that evaluates the user's schedule at floor(calls / steps) instead (made once).
import { LearningRateSchedule } from '../schedules/schedule.js';

/** `source`, evaluated at the update count when `accumulationSteps` is set (a constant stays itself). */
export function atUpdateCount(source: unknown, accumulationSteps: number | null): unknown {
  if (accumulationSteps === null) return source;
  const N = accumulationSteps;
  if (source instanceof LearningRateSchedule) return (step: number): number => source.call(Math.floor(step / N));
  if (typeof source === 'function') {
    const fn = source as (step: number) => number;
    return (step: number): number => fn(Math.floor(step / N));
  }
  return source;
}
