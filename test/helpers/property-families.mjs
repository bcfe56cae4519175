// The optimizer families of test/property.test.mjs: every optimizer class with a float64 reference
// in test/reference/, the options its conformance test crosses (as fast-check arbitraries), and what
// the state-variable count needs to know; plus the test-side models of the wrappers' bookkeeping
// and the float64 reference of LossScaleOptimizer.
import fc from 'fast-check';
import {
  Adam, AdamW, Adamax, Nadam, SGD, RMSprop, Adagrad, Adadelta, Ftrl, Lion, Lamb, Adafactor, LazyAdam, Yogi, RAdam,
} from '../../build/index.js';
import { adam, adamw } from '../reference/adam.mjs';
import { adamax } from '../reference/adamax.mjs';
import { nadam } from '../reference/nadam.mjs';
import { sgd } from '../reference/sgd.mjs';
import { rmsprop } from '../reference/rmsprop.mjs';
import { adagrad } from '../reference/adagrad.mjs';
import { adadelta } from '../reference/adadelta.mjs';
import { ftrl } from '../reference/ftrl.mjs';
import { lion } from '../reference/lion.mjs';
import { lamb } from '../reference/lamb.mjs';
import { adafactor } from '../reference/adafactor.mjs';
import { lazyAdam } from '../reference/lazy-adam.mjs';
import { yogi } from '../reference/yogi.mjs';
import { radam } from '../reference/radam.mjs';
import { RefLookahead, RefSWA } from '../reference/wrappers.mjs';

const c = fc.constant;
const one = fc.constantFrom;

/**
 * { Cls, spec, own: { option: arbitrary }, slotCount?(o, shape), globalCount?, lazy? }.
 * slotCount: state slots per variable (default: the reference's slots); globalCount:
 * optimizer-level variables (default: the reference's globals); lazy: the reference needs the
 * rows each sparse gradient names (LazyAdam's lazy rule, as optimizers-extra.test.mjs gives it).
 */
export const FAMILIES = [
  { Cls: Adam, spec: adam, own: { amsgrad: fc.boolean(), learningRate: c(0.01) } },
  { Cls: AdamW, spec: adamw, own: { amsgrad: fc.boolean(), beta1: one(0.9, 0.8), learningRate: c(0.01) } },
  { Cls: Adamax, spec: adamax, own: { beta2: one(0.999, 0.99), learningRate: c(0.01) } },
  { Cls: Nadam, spec: nadam, own: { learningRate: c(0.01) } },
  { Cls: SGD, spec: sgd, own: { momentum: one(0, 0.9), nesterov: fc.boolean(), learningRate: c(0.05) } },
  { Cls: RMSprop, spec: rmsprop, own: { momentum: one(0, 0.5), centered: fc.boolean(), learningRate: c(0.01) } },
  { Cls: Adagrad, spec: adagrad, own: { initialAccumulatorValue: one(0.1, 0), learningRate: c(0.05) } },
  { Cls: Adadelta, spec: adadelta, own: { rho: one(0.95, 0.9), learningRate: c(1) } },
  {
    // the values optimizers-extra.test.mjs keeps within the tolerance (Ftrl's linear slot is a running sum)
    Cls: Ftrl,
    spec: ftrl,
    own: {
      learningRatePower: one(-0.5, -0.2, 0),
      l1RegularizationStrength: one(0, 0.05),
      l2RegularizationStrength: one(0, 0.1),
      l2ShrinkageRegularizationStrength: one(0, 0.01),
      beta: one(0, 0.5),
      learningRate: c(0.05),
    },
  },
  { Cls: Lion, spec: lion, own: { beta1: one(0.9, 0.8), learningRate: c(0.01) } },
  { Cls: Lamb, spec: lamb, own: { beta1: one(0.9, 0.5), epsilon: one(1e-7, 1e-3), learningRate: c(0.01) } },
  {
    // factored moments: slots r and c (of their own shapes) for rank >= 2, v for rank 1
    Cls: Adafactor,
    spec: adafactor,
    own: { learningRate: one(0.01, 0.5), clipThreshold: one(1, 0.5), epsilon2: one(1e-3, 2), beta2Decay: one(-0.8, -0.5) },
    slotCount: (o, shape) => (shape.length >= 2 ? 2 : 1),
  },
  // the reference's `touched` global is how it is told the rows; the optimizer has no such variable
  { Cls: LazyAdam, spec: lazyAdam, own: { learningRate: c(0.01) }, lazy: true, globalCount: 0 },
  {
    Cls: Yogi,
    spec: yogi,
    own: {
      beta1: one(0.9, 0),
      activation: one('sign', 'tanh'),
      l1RegularizationStrength: one(0, 0.01),
      l2RegularizationStrength: one(0, 0.05),
      initialAccumulatorValue: one(1e-6, 0.1),
    },
  },
  {
    Cls: RAdam,
    spec: radam,
    own: {
      amsgrad: fc.boolean(),
      beta2: one(0.999, 0.9),
      warmup: one({}, { totalSteps: 10, warmupProportion: 0.3, minLr: 0.002 }, { totalSteps: 4, warmupProportion: 0 }),
      learningRate: c(0.01),
    },
  },
].map((f) => ({
  slotCount: (o, shape) => Object.keys(f.spec.slots(o, shape)).length,
  globalCount: undefined,
  ...f,
  own: fc.record(f.own).map(({ warmup, ...o }) => ({ ...o, ...warmup })),
}));

/** Optimizer-level state variables of a family (Nadam's u_product). */
export const globalCount = (family, o) => family.globalCount ?? Object.keys(family.spec.globals?.(o) ?? {}).length;

/**
 * Lookahead as documented (src/optimizers/lookahead.ts): slow weights start as the weights when the
 * wrapper first sees the variable (before that step), and every sync covers every slow weight.
 * `acted` says whether the last apply synced.
 */
export class RefLookaheadModel extends RefLookahead {
  slotName = 'slow';
  acted = false;

  get slots() {
    return this.slow;
  }

  apply(pairs) {
    const before = this.inner.iterations;
    super.apply(pairs);
    const step = this.inner.iterations;
    this.acted = step !== before && step % this.syncPeriod === 0;
  }
}

/** RefSWA, telling whether the last apply took a snapshot. */
export class RefSWAModel extends RefSWA {
  slotName = 'average';
  acted = false;

  get slots() {
    return this.avg;
  }

  apply(pairs) {
    const before = this.inner.iterations;
    super.apply(pairs);
    const it = this.inner.iterations - 1;
    this.acted = it + 1 !== before && it >= this.startStep && (it - this.startStep) % this.averagePeriod === 0;
  }
}

/**
 * Float64 reference of LossScaleOptimizer (Keras 3's dynamic loss scaling): the gradients are divided
 * by the current scale; if any is then not finite, nothing is applied, the scale halves and the run
 * of finite steps restarts; otherwise the inner optimizer takes the unscaled gradients, and every
 * dynamicGrowthSteps-th finite step in a row doubles the scale.
 */
export class RefLossScale {
  constructor({ initialScale = 2 ** 15, dynamicGrowthSteps = 2000 } = {}) {
    this.scale = initialScale;
    this.counter = 0;
    this.growth = dynamicGrowthSteps;
  }

  /** values: the given gradients' values (one array each); applyInner(unscaled) runs the inner step. Returns whether it ran. */
  step(values, applyInner) {
    const unscaled = values.map((vals) => Float64Array.from(vals, (x) => x / this.scale));
    if (unscaled.some((u) => u.some((x) => !Number.isFinite(x)))) {
      this.scale /= 2;
      this.counter = 0;
      return false;
    }
    applyInner(unscaled);
    if (++this.counter >= this.growth) {
      this.counter = 0;
      this.scale *= 2;
    }
    return true;
  }
}
