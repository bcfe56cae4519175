// Adam-family bias corrections in Keras' float32 scalar ops: the betas are float32 tensors there,
// and every op rounds once. Kept tiny (module-level aliases, one expression) so that V8 inlines them
// even deep in a step: a call that is not inlined boxes its result, and a step must not allocate.
const { fround, pow, sqrt } = Math;

/** beta^t in float32: beta rounded to float32, the power rounded once. */
export function powerF32(beta: number, t: number): number {
  return fround(pow(fround(beta), t));
}

/** Where adamStepSize reads its inputs and writes its result (a StepSizeIo). */
export const IO_LR = 0;
export const IO_BETA1 = 1;
export const IO_BETA2 = 2;
export const IO_T = 3;
export const IO_ALPHA = 4;

/** A caller's own array for adamStepSize, made once. */
export function stepSizeIo(): Float64Array {
  return new Float64Array(5);
}

/**
 * Adam's step size with both bias corrections folded in, lr * sqrt(1 - b2^t) / (1 - b1^t), in
 * float32: reads io[IO_LR], io[IO_BETA1], io[IO_BETA2], io[IO_T] and writes io[IO_ALPHA]. The
 * numbers travel in an array because a call V8 does not inline (in a long updateStep its inlining
 * budget runs out) boxes each double argument and its result, an allocation per step; an array
 * passes as is, and its elements are stored unboxed.
 */
export function adamStepSize(io: Float64Array): void {
  const t = io[IO_T];
  io[IO_ALPHA] = fround(fround(io[IO_LR] * fround(sqrt(fround(1 - fround(pow(fround(io[IO_BETA2]), t)))))) / fround(1 - fround(pow(fround(io[IO_BETA1]), t))));
}
