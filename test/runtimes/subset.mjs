// The conformance subset every JavaScript runtime runs (Node in-process; Deno and Bun through
// subset-main.mjs) from the built package. Per case: the weights and slots after 12 steps against
// the float64 reference (same tolerance as test/helpers/conformance.mjs), SIMD == scalar bit for
// bit, and a state round trip through JSON that continues to the same bits. Each case reports a
// digest of its final bits, so runtimes can be compared exactly. Inputs come from an integer hash
// (no Math.log/cos, whose last bits may differ between engines).
import { RefOptimizer } from '../reference/base.mjs';
import { sgd } from '../reference/sgd.mjs';
import { adam, adamw } from '../reference/adam.mjs';
import { adamax } from '../reference/adamax.mjs';
import { nadam } from '../reference/nadam.mjs';
import { digest, uniform } from './linear.mjs';

const SHAPES = [[1], [3], [17], [1023], [9, 7]];
const STEPS = 12;
const RTOL = 2e-5;
const ATOL = 2e-6;

export const CASES = [
  ['SGD', sgd, { learningRate: 0.05, momentum: 0.9, nesterov: true }],
  ['SGD', sgd, { learningRate: 0.05, clipvalue: 0.05 }],
  ['Adam', adam, { learningRate: 0.01, amsgrad: true, clipnorm: 0.5 }],
  ['Adam', adam, { learningRate: 0.01, useEma: true, emaMomentum: 0.9, emaOverwriteFrequency: 3, gradientAccumulationSteps: 3 }],
  ['AdamW', adamw, { learningRate: 0.01, beta1: 0.8, globalClipnorm: 1 }],
  ['Adamax', adamax, { learningRate: 0.01, beta2: 0.99, lossScaleFactor: 64 }],
  ['Nadam', nadam, { learningRate: 0.01, weightDecay: 0.05 }],
];

const size = (shape) => shape.reduce((a, b) => a * b, 1);

/** Gradients of step `step`: dense, sometimes null, and sparse rows (unsorted, duplicated) for the 2-D table. */
function gradients(rand, step) {
  return SHAPES.map((shape, k) => {
    if (k === 0 && step % 5 === 4) return null;
    if (shape.length === 2 && step % 2 === 1) {
      const count = step % 4 === 1 ? 0 : 5;
      const indices = Int32Array.from({ length: count }, (_, i) => (i === 1 ? 0 : Math.floor((rand() + 1) * 4.5)));
      if (count) indices[count - 1] = indices[0];
      return { indices, values: new Float32Array(count * shape[1]).map(() => 0.3 * rand()) };
    }
    return new Float32Array(size(shape)).map(() => 0.3 * rand());
  });
}

function initial(seed) {
  const rand = uniform(seed);
  return SHAPES.map((shape) => new Float32Array(size(shape)).map(() => rand()));
}

function schedule(seed) {
  const rand = uniform(seed + 1);
  return Array.from({ length: STEPS }, (_, s) => gradients(rand, s));
}

/** Runs steps [from, to) of `grads` on (opt, vars); builds them when not given. */
function train(lib, name, options, grads, from, to, built) {
  const vars = built?.vars ?? initial(7).map((x, k) => new lib.Variable(x, { shape: SHAPES[k], name: `v${k}` }));
  const opt = built?.opt ?? new lib[name](options);
  for (let s = from; s < to; s++) opt.applyGradients(grads[s].map((g, k) => [g, vars[k]]));
  return { vars, opt };
}

/** Weights then every optimizer variable, in a fixed order. */
function bits(run) {
  return digest(...run.vars.map((v) => v.value), ...run.opt.variables.map((v) => v.value));
}

function dispose(run) {
  run.opt.dispose();
  for (const v of run.vars) v.dispose();
}

/** Worst |ours - ref| / tolerance over an array pair (<= 1 passes). */
function errorRatio(ours, ref) {
  let scale = 0;
  for (const x of ref) scale = Math.max(scale, Math.abs(x));
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = Math.abs(ours[i] - ref[i]) / (RTOL * Math.abs(ref[i]) + ATOL * scale + 1e-30);
    worst = Number.isNaN(r) ? Infinity : Math.max(worst, r);
  }
  return worst;
}

function runCase(lib, [name, spec, options]) {
  const grads = schedule(11);
  const full = train(lib, name, options, grads, 0, STEPS);

  // Against the float64 reference: weights and every slot.
  const ref = new RefOptimizer(spec, options);
  const refVars = initial(7).map((x, k) => ({ shape: SHAPES[k], name: `v${k}`, values: Float64Array.from(x) }));
  for (const gs of grads) ref.apply(gs.map((g, k) => [g, refVars[k]]));
  let worst = 0;
  refVars.forEach((rv, k) => {
    worst = Math.max(worst, errorRatio(full.vars[k].value, rv.values));
    for (const [slot, values] of Object.entries(ref.state(rv).slots)) {
      worst = Math.max(worst, errorRatio(full.opt.getSlot(full.vars[k], slot).value, values));
    }
  });

  // The scalar kernels must give the SIMD bits.
  lib.setSimdEnabled(false);
  let scalar;
  try {
    scalar = train(lib, name, options, grads, 0, STEPS);
  } finally {
    lib.setSimdEnabled(true);
  }

  // Save half way through JSON, restore into fresh variables and a fresh optimizer, finish.
  const half = train(lib, name, options, grads, 0, STEPS / 2);
  const saved = half.opt.getState();
  const json = JSON.stringify({ ...saved, variables: Object.fromEntries(Object.entries(saved.variables).map(([k, v]) => [k, { shape: v.shape, values: [...v.values] }])) });
  const weights = half.vars.map((v) => [...v.value]);
  dispose(half);
  const vars = weights.map((x, k) => new lib.Variable(x, { shape: SHAPES[k], name: `v${k}` }));
  const opt = new lib[name](options);
  opt.setState(JSON.parse(json), vars);
  const resumed = train(lib, name, options, grads, STEPS / 2, STEPS, { vars, opt });

  const result = {
    case: `${name} ${JSON.stringify(options)}`,
    digest: bits(full),
    iterations: full.opt.iterations,
    referenceOk: worst <= 1,
    worstErrorOverTolerance: Number(worst.toPrecision(3)),
    simdEqualsScalar: bits(scalar) === bits(full),
    stateRoundTrip: bits(resumed) === bits(full),
  };
  for (const run of [full, scalar, resumed]) dispose(run);
  return result;
}

/** Runs every case; `lib` is the wasm-optim entry (already `ready()`). */
export function conformanceSubset(lib) {
  return CASES.map((c) => runCase(lib, c));
}
