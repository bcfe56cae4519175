// The step pipeline folded into an optimizer kernel's single pass (docs/pipeline.md). The base
// class writes a record for the variable being updated (src/base/pipeline.ts) and the kernel
// receives its address as its last parameter `pl` (0: no pipeline, the kernel as it always was):
//   gradient  g / d (LossScaleOptimizer), g * s (lossScaleFactor), clamp to [-c, c] (clipvalue),
//             g * s2 (clipnorm / globalClipnorm factor), in this order, on every load of g;
//   weight    w - w * k (decoupled weight decay), on the kernel's one load of w;
//   EMA       avg = m * avg + (1 - m) * w_new, on the kernel's one store of w (avg lies at
//             p + delta: a byte distance, so a thread's slice of p finds its slice of avg).
// Each is the very operation of the separate pass it replaces (common.ts: divCopy, scaleCopy,
// clipByValue, decay, ema), so a fused step has the bits of the multi-pass one.

// Record layout (bytes): flags i32 @0, d @4, s @8, c @12, s2 @16, k @20, m @24, 1 - m @28
// (f32 each), delta i32 @32. Mirrored in src/base/pipeline.ts.
export const PIPE_DIV: i32 = 1;
export const PIPE_MUL: i32 = 2;
export const PIPE_CLAMP: i32 = 4;
export const PIPE_MUL2: i32 = 8;
export const PIPE_DECAY: i32 = 16;
export const PIPE_EMA: i32 = 32;
const PIPE_G: i32 = PIPE_DIV | PIPE_MUL | PIPE_CLAMP | PIPE_MUL2;

/** The record's flags (0 without a record): read once, before the loop. */
// @ts-ignore: decorator
@inline
export function pipeFlags(pl: usize): i32 {
  return pl ? load<i32>(pl) : 0;
}

/** The gradient as the update must see it: four lanes of a load of g. */
// @ts-ignore: decorator
@inline
export function pipeG(gi: v128, f: i32, pl: usize): v128 {
  if (f & PIPE_G) gi = pipeGSlow(gi, f, pl);
  return gi;
}

// @ts-ignore: decorator
@inline
function pipeGSlow(gi: v128, f: i32, pl: usize): v128 {
  // A clip factor alone (global clipping, the usual fine-tuning case) without the chain of tests:
  // measured 0.04 -> 0.01 of Adam's step.
  if ((f & PIPE_G) == PIPE_MUL2) return f32x4.mul(gi, v128.load32_splat(pl + 16));
  if (f & PIPE_DIV) gi = f32x4.div(gi, v128.load32_splat(pl + 4));
  if (f & PIPE_MUL) gi = f32x4.mul(gi, v128.load32_splat(pl + 8));
  if (f & PIPE_CLAMP) {
    const c = v128.load32_splat(pl + 12);
    gi = f32x4.pmin(f32x4.pmax(gi, f32x4.neg(c)), c); // clipByValue's clamp (common.ts)
  }
  if (f & PIPE_MUL2) gi = f32x4.mul(gi, v128.load32_splat(pl + 16));
  return gi;
}

/** The gradient as the update must see it: one element. */
// @ts-ignore: decorator
@inline
export function pipeG1(gi: f32, f: i32, pl: usize): f32 {
  if (f & PIPE_G) {
    if (f & PIPE_DIV) gi = gi / load<f32>(pl + 4);
    if (f & PIPE_MUL) gi = gi * load<f32>(pl + 8);
    if (f & PIPE_CLAMP) {
      const c = load<f32>(pl + 12);
      gi = min(max(gi, -c), c);
    }
    if (f & PIPE_MUL2) gi = gi * load<f32>(pl + 16);
  }
  return gi;
}

/** The weight after decoupled decay: four lanes of the kernel's one load of w. */
// @ts-ignore: decorator
@inline
export function pipeW(wi: v128, f: i32, pl: usize): v128 {
  if (f & PIPE_DECAY) wi = f32x4.sub(wi, f32x4.mul(wi, v128.load32_splat(pl + 20)));
  return wi;
}

/** The weight after decoupled decay: one element. */
// @ts-ignore: decorator
@inline
export function pipeW1(wi: f32, f: i32, pl: usize): f32 {
  if (f & PIPE_DECAY) wi = wi - wi * load<f32>(pl + 20);
  return wi;
}

/** Stores the new weight at `at` (= p + offset) and, with EMA, updates the average beside it. */
// @ts-ignore: decorator
@inline
export function pipeStoreW(at: usize, wi: v128, f: i32, pl: usize): void {
  v128.store(at, wi);
  if (f & PIPE_EMA) {
    const a = at + <usize>load<i32>(pl + 32);
    v128.store(a, f32x4.add(f32x4.mul(v128.load32_splat(pl + 24), v128.load(a)), f32x4.mul(v128.load32_splat(pl + 28), wi)));
  }
}

/** Stores one new weight and, with EMA, updates its average. */
// @ts-ignore: decorator
@inline
export function pipeStoreW1(at: usize, wi: f32, f: i32, pl: usize): void {
  store<f32>(at, wi);
  if (f & PIPE_EMA) {
    const a = at + <usize>load<i32>(pl + 32);
    store<f32>(a, load<f32>(pl + 24) * load<f32>(a) + load<f32>(pl + 28) * wi);
  }
}
