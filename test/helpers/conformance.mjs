// Runs an optimizer against its float64 reference over every option combination, several steps
// and odd sizes (SIMD tails), with null and sparse (duplicate, unsorted) gradients mixed in, and
// checks that the SIMD and scalar kernel paths give bit-identical weights and slots. With
// skipNonFinite, non-finite gradients are mixed in too, and those calls must change nothing.
import * as assert from 'uvu/assert';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { setSimdEnabled, Variable } from '../../build/index.js';
import { RefOptimizer } from '../reference/base.mjs';
import { rng } from './random.mjs';

/** Shapes: lengths 1, 3, 5, 17, 1023 (SIMD tails) and a 2-D table that also gets sparse gradients. */
export const SHAPES = [[1], [3], [5], [17], [1023], [9, 7]];

/** Tolerance against the float64 reference: |ours - ref| <= RTOL*|ref| + ATOL*max|ref| (per array). */
export const RTOL = 2e-5;
export const ATOL = 2e-6;

/** Cartesian product of option lists: { a: [x, y], b: [z] } -> [{a:x,b:z}, {a:y,b:z}]. */
export function combos(grid) {
  return Object.entries(grid).reduce(
    (acc, [key, values]) => acc.flatMap((c) => values.map((v) => (v === undefined ? c : { ...c, [key]: v }))),
    [{}],
  );
}

/**
 * The base-class options, every combination: clipping x decay x EMA x accumulation x loss scale x
 * skipNonFinite (128). With skipNonFinite the runs also get non-finite gradients (see POISON).
 */
export const BASE_GRID = {
  clip: [undefined, { clipnorm: 0.5 }, { clipvalue: 0.05 }, { globalClipnorm: 1.0 }],
  weightDecay: [undefined, 0.05],
  ema: [undefined, { useEma: true, emaMomentum: 0.9, emaOverwriteFrequency: 3 }],
  accumulation: [undefined, 3],
  lossScaleFactor: [undefined, 64],
  skipNonFinite: [undefined, true],
};

export function baseCombos() {
  return combos(BASE_GRID).map(({ clip, ema, accumulation, ...rest }) => ({
    ...rest, ...clip, ...ema, ...(accumulation ? { gradientAccumulationSteps: accumulation } : {}),
  }));
}

/**
 * With skipNonFinite, before these steps a copy of the step's gradients with one non-finite value is
 * applied first (step -> [variable, value]); it must be skipped and change nothing, so the trajectory
 * (and the reference's) is that of the clean gradients. Step 5 poisons a dense gradient; step 11 the
 * sparse rows of the table (a dense gradient when not sparse).
 */
export const POISON = new Map([[5, [1, NaN]], [11, [5, -Infinity]]]);

function gradientsFor(r, step, shapes, sparse) {
  return shapes.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (k === 0 && step % 5 === 4) return null; // a skipped variable now and then
    if (sparse && shape.length === 2 && step % 2 === 1) {
      const rows = shape[0];
      const row = n / rows;
      const count = step % 4 === 1 ? 0 : 5; // an empty index list too
      const indices = Int32Array.from({ length: count }, (_, i) => (i === 1 ? 0 : r.int(rows)));
      if (count) indices[count - 1] = indices[0]; // duplicates, unsorted
      return { indices, values: r.f32(count * row, 0.3) };
    }
    return r.f32(n, 0.3);
  });
}

// The seeded initial values and gradients depend only on (seed, steps, sparse), not on the options:
// made once and copied for each run (drawing them took 40% of the time of a run).
const inputCache = new Map();
function inputs(seed, steps, sparse) {
  const key = `${seed}/${steps}/${sparse}`;
  let cached = inputCache.get(key);
  if (!cached) {
    const r = rng(seed);
    const init = SHAPES.map((shape) => r.f32(shape.reduce((a, b) => a * b, 1)));
    const grads = Array.from({ length: steps }, (_, s) => gradientsFor(r, s, SHAPES, sparse));
    cached = { init, grads };
    inputCache.set(key, cached);
  }
  return cached;
}

/** A fresh copy of a step's gradients (with `bad` = [variable, value] written in), so no run sees another's arrays. */
function copyStep(gs, bad) {
  const out = gs.map((g) => (g === null ? null : ArrayBuffer.isView(g) ? g.slice() : { indices: g.indices.slice(), values: g.values.slice() }));
  if (bad) {
    const g = out[bad[0]];
    (ArrayBuffer.isView(g) ? g : g.values)[0] = bad[1];
  }
  return out;
}

/** Runs ours; `grads` are the clean steps, `poisoned` the number of non-finite calls made before them. */
function run(Cls, options, { steps, seed, sparse }) {
  const { init, grads: clean } = inputs(seed, steps, sparse);
  const opt = new Cls(options);
  const vars = SHAPES.map((shape, k) => new Variable(init[k], { shape, name: `v${k}` }));
  const grads = [];
  let poisoned = 0;
  for (let s = 0; s < steps; s++) {
    if (options.skipNonFinite === true && POISON.has(s)) {
      opt.applyGradients(copyStep(clean[s], POISON.get(s)).map((g, k) => [g, vars[k]]));
      poisoned++;
    }
    const gs = copyStep(clean[s], null);
    grads.push(gs);
    opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
  }
  return { opt, vars, grads, poisoned };
}

function sameArray(label, a, b) {
  assert.is(b.length, a.length, `${label}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.unreachable(`${label}[${i}]: SIMD ${a[i]} != scalar ${b[i]}`);
  }
}

/**
 * Asserts that the SIMD run `simd` and the scalar run `scalar` ({ opt, vars }) ended bit-identical:
 * iterations, every variable and every slot. getState() lists every slot by name (the optimizer's
 * own, the base class's accumulator and EMA average, a wrapper's and its inner optimizer's).
 */
export function assertSameBits(label, simd, scalar) {
  assert.is(scalar.opt.iterations, simd.opt.iterations, `${label}: iterations, SIMD vs scalar`);
  simd.vars.forEach((v, k) => sameArray(`${label} ${v.name}`, v.value, scalar.vars[k].value));
  const a = simd.opt.getState();
  const b = scalar.opt.getState();
  const names = Object.keys(a.variables);
  assert.equal(Object.keys(b.variables), names, `${label}: the same slots, SIMD vs scalar`);
  assert.ok(names.length > 0 || simd.opt.getClassName() === 'SGD', `${label}: no slot to compare`);
  for (const name of names) {
    assert.equal(b.variables[name].shape, a.variables[name].shape, `${label} ${name}: shape`);
    sameArray(`${label} ${name}`, a.variables[name].values, b.variables[name].values);
  }
}

function close(name, ours, ref) {
  let scale = 0;
  for (const x of ref) scale = Math.max(scale, Math.abs(x));
  for (let i = 0; i < ref.length; i++) {
    const tol = RTOL * Math.abs(ref[i]) + ATOL * scale + 1e-30;
    if (!(Math.abs(ours[i] - ref[i]) <= tol)) {
      assert.unreachable(`${name}[${i}]: ours ${ours[i]} vs float64 reference ${ref[i]} (tolerance ${tol.toExponential(2)})`);
    }
  }
}

/**
 * Checks `Cls` with `options` against the reference `spec`: weights, every slot and iterations
 * after `steps` steps; then that the scalar kernels give the same bits as the SIMD ones (weights,
 * every slot and iterations).
 */
export function conformance(Cls, spec, options, { steps = 12, seed = 1, sparse = true } = {}) {
  const { opt, vars, grads, poisoned } = run(Cls, options, { steps, seed, sparse });
  const { init } = inputs(seed, steps, sparse);
  const ref = new RefOptimizer(spec, options);
  const refVars = SHAPES.map((shape, k) => ({ shape, name: `v${k}`, values: Float64Array.from(init[k]) }));
  for (const gs of grads) ref.apply(gs.map((g, k) => [g, refVars[k]]));
  const label = `${Cls.className} ${JSON.stringify(options)}`;
  assert.is(opt.iterations, ref.iterations, `${label}: iterations`);
  // skipNonFinite: each poisoned call was skipped (the reference never saw it) and counted.
  assert.is(opt.nonFiniteSkips, poisoned, `${label}: calls skipped for non-finite gradients`);
  if (options.skipNonFinite) assert.ok(poisoned > 0, `${label}: no non-finite gradient was tried`);
  refVars.forEach((rv, k) => {
    close(`${label} ${rv.name}`, vars[k].value, rv.values);
    const slots = ref.state(rv).slots;
    for (const name of Object.keys(slots)) close(`${label} ${rv.name}/${name}`, opt.getSlot(vars[k], name).value, slots[name]);
  });
  setSimdEnabled(false);
  let scalar;
  try {
    scalar = run(Cls, options, { steps, seed, sparse });
  } finally {
    setSimdEnabled(true);
  }
  assertSameBits(label, { opt, vars }, scalar);
  for (const x of [opt, scalar.opt]) x.dispose();
  for (const v of [...vars, ...scalar.vars]) v.dispose();
}

/**
 * conformance(lib[className], spec, options, runOptions) for every `options` of `list`, split over
 * worker threads (one per core, at most 4): the option crosses are tens of thousands of runs. `ref`
 * is [reference module URL, export name]. Fails with the first failing run's message.
 */
export async function conformanceAll(className, ref, list, runOptions = {}) {
  const cores = os.availableParallelism?.() ?? os.cpus().length; // availableParallelism: Node >= 18.14
  const count = Math.max(1, Math.min(cores, 4, Math.ceil(list.length / 64)));
  const slices = Array.from({ length: count }, (_, w) => list.filter((_, i) => i % count === w));
  const results = await Promise.all(
    slices.map(
      (slice) =>
        new Promise((resolve, reject) => {
          const worker = new Worker(new URL('./conformance-worker.mjs', import.meta.url), {
            workerData: { className, ref, list: slice, runOptions },
          });
          let report = null;
          worker.once('message', (m) => (report = m));
          worker.once('error', reject);
          worker.once('exit', (code) => (report ? resolve(report) : reject(new Error(`a conformance worker exited (${code}) without a report`))));
        }),
    ),
  );
  const failed = results.find((r) => r.error);
  if (failed) assert.unreachable(failed.error);
  assert.is(results.reduce((a, r) => a + r.ran, 0), list.length, `${className}: every combination ran`);
}
