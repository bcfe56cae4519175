// Adam-family bias corrections in Keras' float32 scalar ops: the betas are float32 tensors there,
// and every op rounds once. Kept tiny (module-level aliases, one expression) so that V8 inlines them
// even deep in a step: a call that is not inlined boxes its result, and a step must not allocate.
const { fround, pow, sqrt } = Math;

/** beta^t in float32: beta rounded to float32, the power rounded once. */
export function powerF32(beta: number, t: number): number {
  return fround(pow(fround(beta), t));
}

/** Adam's step size with both bias corrections folded in: lr * sqrt(1 - b2^t) / (1 - b1^t), in float32. */
export function adamStepSize(lr: number, beta1: number, beta2: number, t: number): number {
  return fround(fround(lr * fround(sqrt(fround(1 - fround(pow(fround(beta2), t)))))) / fround(1 - fround(pow(fround(beta1), t))));
}
