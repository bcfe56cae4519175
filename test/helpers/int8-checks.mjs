// Checks the 8-bit state tests (int8-state, int8-adan, int8-ademamix) share: a trajectory that may
// be saved and resumed half-way, the state bytes per parameter measured from an arena, and the
// fresh-process allocation probe.
import { spawnSync } from 'node:child_process';
import * as assert from 'uvu/assert';
import * as lib from '../../build/index.js';
import { rng } from './random.mjs';

const { Variable, Optimizer, Arena, setSimdEnabled } = lib;

/**
 * Seven steps of `make()` on an n-element vector (8-bit slots; no gradient at step 2) and a
 * 10-element bias (float32 slots); with `resumeAt`, saved there (saveState) and restored into a
 * fresh optimizer and fresh variables. Returns the weights and every state entry's exact values.
 */
export function resumableRun(make, { n, simd = true, resumeAt = -1 }) {
  const grads = Array.from({ length: 7 }, (_, t) => (t === 2 ? null : rng(200 + t).f32(n, 0.02)));
  const small = Array.from({ length: 7 }, (_, t) => rng(300 + t).f32(10, 0.02));
  setSimdEnabled(simd);
  try {
    let w = new Variable(rng(201).f32(n), { name: 'w' });
    let b = new Variable(rng(202).f32(10), { name: 'b' });
    let opt = make();
    grads.forEach((g, t) => {
      if (t === resumeAt) {
        const bytes = opt.saveState();
        const w2 = new Variable(w.value, { name: 'w' });
        const b2 = new Variable(b.value, { name: 'b' });
        opt.dispose();
        w.dispose();
        b.dispose();
        [w, b] = [w2, b2];
        opt = Optimizer.fromCheckpoint(bytes, [w, b]);
      }
      opt.applyGradients([[g, w], [small[t], b]]);
    });
    const state = Object.entries(opt.getState().variables);
    const out = {
      w: [...w.value, ...b.value],
      s: JSON.stringify(state.map(([k, e]) => [k, e.quantized ? [...e.quantized.codes, ...e.quantized.absmax] : [...e.values]])),
      quantized: state.filter(([, e]) => e.quantized).length,
    };
    opt.dispose();
    w.dispose();
    b.dispose();
    return out;
  } finally {
    setSimdEnabled(true);
  }
}

/**
 * Bytes of optimizer state per parameter of a 1e6-element variable, float32 and int8, from a fresh
 * arena's live bytes (the gradient lies in wasm memory: no staging copy); checks that dispose frees it.
 */
export function stateBytesPerParam(Class) {
  const memory = new WebAssembly.Memory({ initial: 256 });
  const heap = new Arena(memory, lib.instantiateKernels(lib.kernelModule(), memory));
  const n = 1_000_000;
  const w = Variable.zeros([n], { name: 'w' }, heap);
  const g = Variable.zeros([n], { name: 'g' }, heap);
  const perParam = {};
  for (const dtype of ['float32', 'int8']) {
    const before = heap.liveBytes;
    const opt = new Class({ stateDtype: dtype });
    opt.applyGradients([[g.value, w]]);
    perParam[dtype] = (heap.liveBytes - before) / n;
    opt.dispose();
    assert.is(heap.liveBytes, before, `${dtype}: dispose frees everything`);
  }
  return perParam;
}

/**
 * Runs an allocation probe (node arguments after the flags: a script file, or `--input-type=module
 * -e <source>`) that prints [{ label, collections }] in fresh processes with a 1 MiB young
 * generation, and asserts `labels` configurations with no collection. V8's tiering is
 * timing-dependent (see alloc-probe.mjs): each configuration's best of up to five processes counts;
 * a step that allocates shows collections in every one.
 */
export function assertNoCollections(args, labels) {
  const best = new Map();
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const out = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', ...args], { encoding: 'utf8' });
    last = out.stdout + out.stderr;
    for (const r of JSON.parse(out.stdout)) best.set(r.label, Math.min(best.get(r.label) ?? Infinity, r.collections));
    if ([...best.values()].every((c) => c === 0)) break;
  }
  assert.is(best.size, labels, last);
  for (const [label, c] of best) assert.is(c, 0, `${label}: ${c} collections in 20,000 steps (${last})`);
}

/**
 * Ten steps of `make()` on a 50 x 100 table straight through, against four steps, a save and a
 * restore (`how`: 'bytes' through Optimizer.fromCheckpoint, 'deferred' loadState before the variable
 * is built, 'state' getState/setState) and six more: asserts the same weights and the same exact
 * 8-bit state (kind, rowSize, codes, absmax). With `sparse`, every third gradient is 3 rows. Returns
 * the resumed optimizer's state entries and its stateDtype.
 */
export function assertResumes(make, how, { sparse = false, seed = 15, gradSeed = 100 } = {}) {
  const rows = 50;
  const cols = 100;
  const init = rng(seed).f32(rows * cols);
  const grads = Array.from({ length: 10 }, (_, t) => {
    const r = rng(gradSeed + t);
    return sparse && t % 3 === 1 ? { indices: Int32Array.from([1, 7, 30]), values: r.f32(3 * cols, 0.01) } : r.f32(rows * cols, 0.01);
  });
  const straight = new Variable(init, { name: 'w', shape: [rows, cols] });
  const a = make();
  for (const g of grads) a.applyGradients([[g, straight]]);
  const w1 = new Variable(init, { name: 'w', shape: [rows, cols] });
  const b = make();
  for (const g of grads.slice(0, 4)) b.applyGradients([[g, w1]]);
  const w2 = new Variable(w1.value, { name: 'w', shape: [rows, cols] });
  let c;
  if (how === 'bytes') c = Optimizer.fromCheckpoint(b.saveState(), [w2]);
  else if (how === 'deferred') {
    c = make();
    c.loadState(b.saveState());
  } else {
    c = make();
    c.setState(b.getState(), [w2]);
  }
  for (const g of grads.slice(4)) c.applyGradients([[g, w2]]);
  assert.equal(w2.value, straight.value, `weights (${how})`);
  const sa = a.getState().variables;
  const sc = c.getState().variables;
  for (const k of Object.keys(sa)) assert.equal(sc[k].quantized, sa[k].quantized, `${k}: kind, rowSize, codes and absmax (${how})`);
  const stateDtype = c.stateDtype;
  for (const o of [a, b, c]) o.dispose();
  for (const v of [straight, w1, w2]) v.dispose();
  return { state: sc, stateDtype };
}
