// Runs an optimizer against its float64 reference over every option combination, several steps
// and odd sizes (SIMD tails), with null and sparse (duplicate, unsorted) gradients mixed in, and
// checks that the SIMD and scalar kernel paths give bit-identical results.
import * as assert from 'uvu/assert';
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

/** The base-class options, every combination: clipping x decay x EMA x accumulation x loss scale. */
export const BASE_GRID = {
  clip: [undefined, { clipnorm: 0.5 }, { clipvalue: 0.05 }, { globalClipnorm: 1.0 }],
  weightDecay: [undefined, 0.05],
  ema: [undefined, { useEma: true, emaMomentum: 0.9, emaOverwriteFrequency: 3 }],
  accumulation: [undefined, 3],
  lossScaleFactor: [undefined, 64],
};

export function baseCombos() {
  return combos(BASE_GRID).map(({ clip, ema, accumulation, ...rest }) => ({
    ...rest, ...clip, ...ema, ...(accumulation ? { gradientAccumulationSteps: accumulation } : {}),
  }));
}

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

function run(Cls, options, { steps, seed, sparse }) {
  const r = rng(seed);
  const opt = new Cls(options);
  const vars = SHAPES.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return new Variable(r.f32(n), { shape, name: `v${k}` });
  });
  const grads = [];
  for (let s = 0; s < steps; s++) {
    const gs = gradientsFor(r, s, SHAPES, sparse);
    grads.push(gs);
    opt.applyGradients(gs.map((g, k) => [g, vars[k]]));
  }
  return { opt, vars, grads };
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
 * after `steps` steps; then that the scalar kernels give the same bits as the SIMD ones.
 */
export function conformance(Cls, spec, options, { steps = 12, seed = 1, sparse = true } = {}) {
  const { opt, vars, grads } = run(Cls, options, { steps, seed, sparse });
  const init = rng(seed);
  const ref = new RefOptimizer(spec, options);
  const refVars = SHAPES.map((shape, k) => ({
    shape, name: `v${k}`, values: Float64Array.from(init.f32(shape.reduce((a, b) => a * b, 1))),
  }));
  for (const gs of grads) ref.apply(gs.map((g, k) => [g, refVars[k]]));
  const label = `${Cls.className} ${JSON.stringify(options)}`;
  assert.is(opt.iterations, ref.iterations, `${label}: iterations`);
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
  vars.forEach((v, k) => {
    const a = v.value;
    const b = scalar.vars[k].value;
    for (let i = 0; i < a.length; i++) {
      if (!Object.is(a[i], b[i])) assert.unreachable(`${label} v${k}[${i}]: SIMD ${a[i]} != scalar ${b[i]}`);
    }
  });
  for (const x of [opt, scalar.opt]) x.dispose();
  for (const v of [...vars, ...scalar.vars]) v.dispose();
}
