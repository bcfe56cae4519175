// The arena under stress: wasm memory growing in the middle of a step (every place a step can
// allocate), thousands of variables created and disposed in random order (freed space is reused,
// memory stays within 2x of the live bytes, no block overlaps another), guard bytes, and every
// use after dispose raising a clear error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ready, Arena, instantiateKernels, kernelModule, Variable, Adam, SGD, LossScaleOptimizer,
} from '../build/index.js';
import { RefOptimizer } from './reference/base.mjs';
import { adam } from './reference/adam.mjs';
import { sgd } from './reference/sgd.mjs';
import { RTOL, ATOL } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';

await ready();

const PAGE = 65536;

/** An arena of its own over `pages` pages, so growth and fragmentation are measured alone. */
function freshArena(pages = 1, guards = 0) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  const heap = new Arena(memory, instantiateKernels(kernelModule(), memory));
  if (guards) heap.setGuards(guards);
  return heap;
}

/**
 * Fills every free byte of a fresh arena (one block that fits nowhere, so memory grows and it lands
 * at the end, then one for what is left there): the next allocation grows memory.
 */
function squeeze(heap, guards = 16) {
  const a = heap.alloc(heap.memory.buffer.byteLength - heap.liveBytes);
  const rest = heap.memory.buffer.byteLength - (a - guards + heap.sizeOf(a));
  if (rest > 2 * guards) heap.alloc(rest - 2 * guards);
}

test('the step pipeline record (docs/pipeline.md) lies at base (16 for 0, never the null address), before every block, outside liveBytes', () => {
  for (const base of [64, 256, 0]) {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    const heap = new Arena(memory, instantiateKernels(kernelModule(), memory), base);
    assert.is(heap.pipeline, Math.max(base, 16));
    assert.is(heap.liveBytes, 0);
    const p = heap.alloc(16);
    assert.ok(p >= heap.pipeline + 48, `the first block (${p}) starts after the record`);
    heap.free(p);
  }
});

function close(label, ours, ref) {
  let scale = 0;
  for (const x of ref) scale = Math.max(scale, Math.abs(x));
  for (let i = 0; i < ref.length; i++) {
    const tol = RTOL * Math.abs(ref[i]) + ATOL * scale + 1e-30;
    if (!(Math.abs(ours[i] - ref[i]) <= tol)) assert.unreachable(`${label}[${i}]: ours ${ours[i]} vs float64 reference ${ref[i]}`);
  }
}

/**
 * Variables of the given shapes in `heap` and their float64 twins; `step(kinds)` builds one
 * gradient per variable ('wasm': a view of wasm memory, 'js': a Float32Array on the JS heap,
 * 'sparse': rows with duplicates, null) and applies it to both.
 */
function setup(heap, shapes, Opt, spec, options, seed = 1) {
  const r = rng(seed);
  const vars = shapes.map((shape, i) => {
    const values = r.f32(shape.reduce((a, b) => a * b, 1));
    return { v: new Variable(values, { shape, name: `g${seed}_${i}` }, heap), ref: { values: Float64Array.from(values), shape, name: `g${seed}_${i}` } };
  });
  const opt = Opt ? new Opt(options) : null;
  const refOpt = spec ? new RefOptimizer(spec, options) : null;
  const holders = [];
  const gradients = (kinds, sparseRows = 3) =>
    kinds.map((kind, i) => {
      const { v } = vars[i];
      if (kind === null) return null;
      if (kind === 'sparse') {
        const rows = v.shape[0];
        const indices = Array.from({ length: sparseRows }, (_, k) => (k === sparseRows - 1 ? 0 : r.int(rows)));
        indices[0] = 0; // a duplicate
        return { indices, values: r.f32(sparseRows * (v.size / rows), 0.3) };
      }
      const values = r.f32(v.size, 0.3);
      if (kind === 'js') return values;
      const h = new Variable(values, { name: `holder${holders.length}` }, heap);
      holders.push(h);
      return h; // its view is taken just before the step
    });
  return { vars, opt, refOpt, gradients, holders };
}

/** Applies gradients to the optimizer and the reference; returns whether memory grew during the call. */
function applyBoth({ vars, opt, refOpt }, gs, heap) {
  const pairs = gs.map((g, i) => [g instanceof Variable ? g.value : g, vars[i].v]);
  const refPairs = gs.map((g, i) => [g instanceof Variable ? Float32Array.from(g.value) : g, vars[i].ref]).filter(([g]) => g !== null);
  const before = heap.memory.buffer;
  opt.applyGradients(pairs);
  refOpt.apply(refPairs);
  return heap.memory.buffer !== before;
}

function checkAll({ vars, opt, refOpt }, label) {
  for (const { v, ref } of vars) {
    close(`${label}: ${v.name}`, v.value, ref.values);
    const st = refOpt.vars.get(ref);
    if (st) for (const [name, s] of Object.entries(st.slots)) close(`${label}: ${v.name}/${name}`, opt.getSlot(v, name).value, s);
  }
  assert.is(opt.iterations, refOpt.iterations, `${label}: iterations`);
}

// ---------------------------------------------------------------- memory growth in the middle of a step

const growthCases = [
  // [label, optimizer, reference, options, shapes, warm-up (steps: 'prepare' or gradient kinds),
  //  the growing step's kinds, sparse rows in it]. The warm-up leaves the first variables' buffers
  // in place, so memory grows at a later variable, after the earlier ones' gradients were prepared.
  ['slots built for new variables (wasm, JS and sparse gradients)', Adam, adam, { learningRate: 0.01 },
    [[64], [300, 4], [5]], [], ['wasm', 'sparse', 'js']],
  ['the private copy of a JS gradient, after a gradient read in place', SGD, sgd, { learningRate: 0.1 },
    [[8], [4000]], ['prepare'], ['wasm', 'js']],
  ['sparse de-duplication scratch, after a gradient read in place', SGD, sgd, { learningRate: 0.1 },
    [[8], [64, 3]], [['wasm', 'sparse']], ['wasm', 'sparse'], 3000],
  ['clipping copies (globalClipnorm), wasm and JS gradients', Adam, adam, { learningRate: 0.01, globalClipnorm: 0.5 },
    [[40], [2000], [7]], ['prepare', ['wasm', null, 'wasm']], ['wasm', 'js', 'wasm']],
  ['gradient accumulation with sparse rows', Adam, adam, { learningRate: 0.01, gradientAccumulationSteps: 2 },
    [[16], [64, 5]], [['wasm', 'sparse']], ['wasm', 'sparse'], 3000],
  ['skipNonFinite checks copying JS gradients', Adam, adam, { learningRate: 0.01, skipNonFinite: true },
    [[32], [3000], [9]], ['prepare', ['js', null, 'wasm']], ['js', 'js', 'wasm']],
  ['EMA and weight decay on top', SGD, sgd, { learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, useEma: true },
    [[33], [128, 2]], [['wasm', 'wasm']], ['wasm', 'sparse'], 2000],
];

for (const [label, Opt, spec, options, shapes, warm, kinds, sparseRows] of growthCases) {
  test(`memory growth in the middle of a step: ${label}`, () => {
    const heap = freshArena(1, 16);
    const ctx = setup(heap, shapes, Opt, spec, options);
    for (const w of warm) {
      if (w === 'prepare') ctx.opt.prepare(ctx.vars.map((x) => x.v));
      else applyBoth(ctx, ctx.gradients(w), heap);
    }
    const gs = ctx.gradients(kinds, sparseRows);
    squeeze(heap);
    assert.ok(applyBoth(ctx, gs, heap), 'memory grew during the step');
    heap.checkGuards();
    checkAll(ctx, label);
    // and the steps after it, with memory grown
    for (let s = 0; s < 3; s++) applyBoth(ctx, ctx.gradients(kinds, sparseRows), heap);
    checkAll(ctx, `${label}, 3 steps later`);
    heap.checkGuards();
  });
}

test('memory growth in the middle of a step: the dense buffer of the default updateStepSparse, in the update loop', () => {
  const heap = freshArena(1, 16);
  const ctx = setup(heap, [[16, 4], [40]], Adam, adam, { learningRate: 0.01 });
  ctx.opt.prepare(ctx.vars.map((x) => x.v));
  const gs = ctx.gradients(['sparse', 'wasm']);
  // Room for exactly the four de-duplication buffers of 3 rows (16 slots each, the minimum): they
  // fit, and the densified gradient Adam's updateStepSparse allocates next grows memory, after
  // the second variable's gradient view was taken.
  const holes = [0, 1, 2, 3].map(() => heap.alloc(64));
  squeeze(heap);
  holes.forEach((p) => heap.free(p));
  assert.ok(applyBoth(ctx, gs, heap), 'memory grew during the step');
  heap.checkGuards();
  checkAll(ctx, 'growth in the update loop');
});

test('memory growth in the middle of a step: LossScaleOptimizer buffers for new variables', () => {
  const heap = freshArena(1, 16);
  const options = { learningRate: 0.01 };
  const ctx = setup(heap, [[50], [3000], [6, 2]], null, adam, options);
  const scale = 1024; // a power of two: unscaling is exact, so the inner reference sees g / scale
  ctx.opt = new LossScaleOptimizer(new Adam(options), { initialScale: scale, dynamicGrowthSteps: 1000 });
  const gs = ctx.gradients(['wasm', 'js', 'sparse']);
  squeeze(heap);
  const pairs = gs.map((g, i) => [g instanceof Variable ? g.value : g, ctx.vars[i].v]);
  const refPairs = gs.map((g, i) => {
    const values = g instanceof Variable ? Float32Array.from(g.value) : ArrayBuffer.isView(g) ? g : g.values;
    const unscaled = Float64Array.from(values, (x) => x / scale);
    return [ArrayBuffer.isView(g) || g instanceof Variable ? unscaled : { indices: g.indices, values: unscaled }, ctx.vars[i].ref];
  });
  const before = heap.memory.buffer;
  ctx.opt.applyGradients(pairs);
  ctx.refOpt.apply(refPairs);
  assert.ok(heap.memory.buffer !== before, 'memory grew during the step');
  heap.checkGuards();
  for (const { v, ref } of ctx.vars) close(v.name, v.value, ref.values);
  assert.is(ctx.opt.iterations, 1);
});

// ---------------------------------------------------------------- fragmentation

test('thousands of variables created and disposed in random order: space is reused, memory stays within 2x of live bytes', () => {
  const heap = freshArena(1, 16);
  const r = rng(42);
  const live = [];
  let maxLive = 0;
  let worst = 0; // the largest memory size / live bytes ratio seen when memory grew
  let created = 0;
  const pattern = (id, n) => Float32Array.from({ length: n }, (_, i) => id * 4096 + (i % 4096));
  const verify = (x) => {
    const want = pattern(x.id, x.v.size);
    const got = x.v.value;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) assert.unreachable(`variable ${x.id}[${i}] was overwritten: ${got[i]}`);
  };
  // A random walk of the live set: sizes from 1 float to 16 KiB, with now and then a big one.
  for (let op = 0; op < 6000; op++) {
    const grow = live.length < 20 || (live.length < 400 && r.uniform() < 0.55);
    if (grow) {
      const n = r.uniform() < 0.02 ? 8192 + r.int(16384) : 1 + r.int(r.uniform() < 0.5 ? 64 : 4096);
      const id = created++;
      const before = heap.memory.buffer.byteLength;
      const v = new Variable(pattern(id, n), { name: `frag${id}` }, heap);
      live.push({ id, v });
      if (heap.memory.buffer.byteLength !== before) worst = Math.max(worst, heap.memory.buffer.byteLength / heap.liveBytes);
    } else {
      const x = live.splice(r.int(live.length), 1)[0];
      verify(x);
      x.v.dispose();
    }
    maxLive = Math.max(maxLive, heap.liveBytes);
  }
  heap.checkGuards();
  live.forEach(verify);
  const size = heap.memory.buffer.byteLength;
  console.log(`  ${created} variables created, ${created - live.length} disposed; peak live ${(maxLive / 1024).toFixed(0)} KiB, memory ${(size / 1024).toFixed(0)} KiB (${(size / maxLive).toFixed(2)}x), worst growth ratio ${worst.toFixed(2)}x, ${heap.freeBlocks} free blocks`);
  assert.is(heap.peakBytes, maxLive);
  assert.ok(size <= 2 * maxLive + PAGE, `memory ${size} B is more than twice the peak live bytes ${maxLive}`);
  // Everything back: one coalesced free block, and the same workload again needs no new memory.
  for (const x of live.splice(0)) x.v.dispose();
  assert.is(heap.liveBytes, 0);
  assert.is(heap.freeBlocks, 1, 'every freed block coalesced into one');
  const again = Array.from({ length: 300 }, (_, i) => new Variable(new Float32Array(1 + ((i * 37) % 4096)), { name: `again${i}` }, heap));
  assert.is(heap.memory.buffer.byteLength, size, 'freed space is reused before memory grows');
  again.forEach((v) => v.dispose());
});

test('optimizers created and disposed among the variables free every slot and scratch buffer', () => {
  const heap = freshArena(1, 16);
  const r = rng(7);
  const vars = [];
  const opts = [];
  for (let round = 0; round < 300; round++) {
    const u = r.uniform();
    if (u < 0.4 || vars.length < 3) {
      const rows = 1 + r.int(40);
      vars.push(new Variable(r.f32(rows * 3), { shape: [rows, 3], name: `churn${round}` }, heap));
    } else if (u < 0.55) {
      vars.splice(r.int(vars.length), 1)[0].dispose();
    } else if (u < 0.8) {
      const opt = r.uniform() < 0.5 ? new Adam({ clipnorm: 1, useEma: true }) : new SGD({ momentum: 0.9, gradientAccumulationSteps: 2 });
      const some = vars.filter(() => r.uniform() < 0.5);
      if (some.length) {
        opt.applyGradients(some.map((v) => [r.uniform() < 0.5 ? r.f32(v.size) : { indices: [r.int(v.shape[0]), 0, 0], values: r.f32(9) }, v]));
      }
      opts.push(opt);
    } else if (opts.length) {
      opts.splice(r.int(opts.length), 1)[0].dispose();
    }
    heap.checkGuards();
  }
  for (const o of opts) o.dispose();
  const weights = vars.reduce((a, v) => a + heap.sizeOf(v.ptr), 0);
  assert.is(heap.liveBytes, weights, 'once the optimizers are gone, only the variables remain allocated');
  for (const v of vars) v.dispose();
  assert.is(heap.liveBytes, 0);
  assert.is(heap.freeBlocks, 1);
});

// ---------------------------------------------------------------- guards

test('guard bytes: a write just past or just before a block is caught by checkGuards and by free', () => {
  const heap = freshArena(1, 32);
  const a = new Variable(new Float32Array(3), { name: 'ga' }, heap);
  const b = new Variable(new Float32Array(4), { name: 'gb' }, heap);
  const bytes = () => new Uint8Array(heap.memory.buffer);
  for (const at of [a.ptr + 16, a.ptr - 1, b.ptr + 16 + 31, b.ptr - 32]) {
    const old = bytes()[at];
    bytes()[at] = old ^ 0x5a;
    assert.throws(() => heap.checkGuards(), new RegExp(`memory corruption: guard byte at ${at} `));
    bytes()[at] = old;
    heap.checkGuards();
  }
  // free refuses a corrupted block and leaves it allocated
  bytes()[a.ptr + 12 + 4] = 0;
  assert.throws(() => a.dispose(), /memory corruption/);
  assert.ok(!a.disposed);
  bytes()[a.ptr + 16] = 0xa5;
  a.dispose();
  b.dispose();
  assert.is(heap.liveBytes, 0);
  // allocations made before guards were switched on are unguarded, and switching off keeps the old guards checked
  const plain = freshArena();
  const p = plain.alloc(16);
  plain.setGuards(16);
  const q = plain.alloc(16);
  plain.setGuards(0);
  plain.checkGuards();
  plain.free(p);
  plain.free(q);
  assert.is(plain.liveBytes, 0);
});

// ---------------------------------------------------------------- use after dispose

test('use after dispose raises a clear error, and dispose is idempotent', () => {
  const heap = freshArena(1, 16);
  const v = new Variable(new Float32Array([1, 2, 3]), { name: 'used' }, heap);
  const w = new Variable(new Float32Array([1, 2, 3]), { name: 'other' }, heap);
  const opt = new Adam();
  opt.applyGradients([[new Float32Array(3), v], [new Float32Array(3), w]]);
  v.dispose();
  v.dispose();
  assert.ok(v.disposed);
  for (const [what, fn] of [
    ['value', () => v.value],
    ['ptr', () => v.ptr],
    ['assign', () => v.assign([0, 0, 0])],
  ]) assert.throws(fn, /Variable 'used' was disposed and cannot be used/, what);
  assert.throws(() => opt.applyGradients([[new Float32Array(3), v]]), /pairs\[0\]\[1\]: variable 'used' was disposed/);
  assert.throws(() => opt.prepare([v]), /prepare: variables\[0\]: variable 'used' was disposed/);
  assert.throws(() => new Adam().applyGradients([[new Float32Array(3), w], [new Float32Array(3), v]]), /variable 'used' was disposed/);
  // a wrapped variable: dispose does not free the memory it does not own, and rebind is refused after it
  const owner = heap.alloc(12);
  const wrapped = Variable.wrap(heap, owner, [3], { name: 'wrapped' });
  wrapped.dispose();
  assert.throws(() => wrapped.rebind(owner), /Variable 'wrapped' was disposed/);
  heap.free(owner);
  assert.throws(() => heap.free(owner), /free of pointer \d+ that is not allocated \(double dispose\?\)/);
  // the optimizer
  opt.dispose();
  opt.dispose();
  assert.ok(opt.disposed);
  for (const [what, fn] of [
    ['applyGradients', () => opt.applyGradients([[new Float32Array(3), w]])],
    ['prepare', () => opt.prepare([w])],
    ['getState', () => opt.getState()],
    ['setState', () => opt.setState({ className: 'Adam', iterations: 0, variables: {} })],
    ['saveState', () => opt.saveState()],
    ['loadState', () => opt.loadState(new Uint8Array(16))],
    ['finalizeVariableValues', () => opt.finalizeVariableValues()],
  ]) assert.throws(fn, new RegExp(`Adam\\.${what}: the optimizer was disposed`), what);
  w.dispose();
  assert.is(heap.liveBytes, 0, 'the optimizer freed its slots, the variables their values');
});

test.run();
