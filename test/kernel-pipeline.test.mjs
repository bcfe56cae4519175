// kernel() takes the fused step pipeline (assembly/pipeline.ts): a kernel declared with
// `pipeline: { weight, gradient }` and run with `this.pipeline` unscales and clips the gradient,
// decays the weight and updates its EMA inside its one pass. A kernel() optimizer that declares
// `fusesPipeline` must give the same bits as the same class taking the separate passes, for every
// base configuration of test/pipeline.test.mjs, dense, null and sparse gradients, SIMD on and off,
// compiled, through the fallback and precompiled; a kernel() Adam must equal the built-in Adam.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as lib from '../build/index.js';
import { defaultHeap, kernel, LossScaleOptimizer, ready, setSimdEnabled, Variable } from '../build/index.js';
import { ADABELIEF, ADAM, BASE as PIPELINE_BASE, f, kernelAdaBelief, kernelAdam, kernelOn, PIPE, plainOf, rng, sameBits, SHAPES, trajectory } from './helpers/fused-kernels.mjs';
import { importTs, repoFile } from './helpers/load-ts.mjs';

await ready();

// The base configurations of test/pipeline.test.mjs, read from that file so the two stay one list.
// Two more where the clamp bites (there, the loss scale of 8 keeps every gradient inside the clip
// value) and a norm is taken of an unscaled gradient under decay.
const BASE = [
  ...PIPELINE_BASE,
  { clipvalue: 0.3, weightDecay: 0.05, useEma: true },
  { clipnorm: 0.5, lossScaleFactor: 2, weightDecay: 0.01 },
];

const MODES = ['compiled', 'fallback', 'precompiled'];
const KINDS = { AdaBelief: [ADABELIEF, kernelAdaBelief], Adam: [ADAM, kernelAdam] };

test('the example AdaBelief declares the pipeline and fuses it; its kernel is the one this suite runs', async () => {
  const ex = await importTs(readFileSync(repoFile('examples/custom-optimizers/adabelief.ts'), 'utf8'), 'kernel-pipeline-adabelief');
  assert.is(ex.adabeliefKernel.signature, kernel(ADABELIEF).signature);
  assert.equal(ex.adabeliefKernel.parameters.pipeline, { weight: 'w', gradient: 'g' });
  assert.is(ex.AdaBelief.fusesPipeline, true);
  assert.is(new ex.AdaBelief()['core'].fuses, true);
  assert.is(new (plainOf(ex.AdaBelief))()['core'].fuses, false);
  // The example class itself, compiled then precompiled: fused = separate passes.
  for (const mode of ['compiled', 'precompiled']) {
    if (mode === 'precompiled') ex.adabeliefKernel.fromModule(new WebAssembly.Module(ex.adabeliefKernel.toBytes()));
    assert.is(ex.adabeliefKernel.mode, mode);
    for (const base of BASE) {
      const options = { learningRate: 0.01, epsilon: 1e-8, ...base };
      sameBits(trajectory(() => new ex.AdaBelief(options), { nan: !!base.skipNonFinite }), trajectory(() => new (plainOf(ex.AdaBelief))(options), { nan: !!base.skipNonFinite }), `example AdaBelief (${mode}) ${JSON.stringify(base)}`);
    }
  }
});

for (const simd of [true, false]) {
  test(`kernel() optimizers: fused pipeline = separate passes, bit for bit, every base configuration, compiled / fallback / precompiled (SIMD ${simd ? 'on' : 'off'})`, () => {
    setSimdEnabled(simd);
    try {
      for (const [kind, [spec, classOf]] of Object.entries(KINDS)) {
        for (const mode of MODES) {
          const C = classOf(kernelOn(spec, mode));
          const P = plainOf(C);
          for (const base of BASE) {
            const options = { learningRate: 0.01, ...base };
            const what = `${kind} (${mode}) ${JSON.stringify(base)}`;
            sameBits(trajectory(() => new C(options), { nan: !!base.skipNonFinite }), trajectory(() => new P(options), { nan: !!base.skipNonFinite }), what);
          }
        }
      }
    } finally {
      setSimdEnabled(true);
    }
  });
}

test('LossScaleOptimizer around a kernel() optimizer: the unscaling (a division) folds into the kernel, bit for bit', () => {
  for (const mode of MODES) {
    const C = kernelAdaBelief(kernelOn(ADABELIEF, mode));
    const P = plainOf(C);
    for (const inner of [{}, { weightDecay: 0.05, useEma: true }, { globalClipnorm: 1 }, { clipvalue: 0.2 }]) {
      for (const initialScale of [2 ** 15, 0.5]) {
        const what = `LossScaleOptimizer(AdaBelief (${mode}) ${JSON.stringify(inner)}), initialScale ${initialScale}`;
        sameBits(
          trajectory(() => new LossScaleOptimizer(new C({ learningRate: 0.01, ...inner }), { initialScale, dynamicGrowthSteps: 2 })),
          trajectory(() => new LossScaleOptimizer(new P({ learningRate: 0.01, ...inner }), { initialScale, dynamicGrowthSteps: 2 })),
          what,
        );
      }
    }
  }
});

test('a kernel() Adam with the pipeline equals the built-in Adam (which fuses) bit for bit: AdamW + globalClipnorm + EMA, and every base configuration', () => {
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      for (const mode of MODES) {
        const C = kernelAdam(kernelOn(ADAM, mode));
        const adamw = { learningRate: 0.01, weightDecay: 0.05, globalClipnorm: 1, useEma: true };
        sameBits(trajectory(() => new C(adamw)), trajectory(() => new lib.AdamW(adamw)), `kernel() Adam (${mode}) vs AdamW ${JSON.stringify(adamw)}, SIMD ${simd}`);
        for (const base of BASE) {
          const options = { learningRate: 0.01, ...base };
          sameBits(trajectory(() => new C(options), { nan: !!base.skipNonFinite }), trajectory(() => new lib.Adam(options), { nan: !!base.skipNonFinite }), `kernel() Adam (${mode}) vs Adam ${JSON.stringify(base)}, SIMD ${simd}`);
        }
      }
    } finally {
      setSimdEnabled(true);
    }
  }
});

test('this.pipeline: the record address in a fusing updateStep of a dense gradient, 0 otherwise; the gradient is then the raw one', () => {
  const seen = [];
  const C = kernelAdam(kernelOn(ADAM, 'compiled'));
  const spy = (Base) => class extends Base {
    static fusesPipeline = Base.fusesPipeline; // declared here: this subclass overrides updateStep
    updateStep(g, v, lr) {
      seen.push([v.name, this.pipeline, g[0]]);
      super.updateStep(g, v, lr);
    }
  };
  const run = (Cls, options) => {
    seen.length = 0;
    const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    const t = new Variable(new Float32Array(6), { shape: [3, 2], name: 't' });
    const o = new Cls(options);
    o.applyGradients([[new Float32Array([8, 8, 8, 8]), w], [{ indices: [1], values: new Float32Array([8, 8]) }, t]]);
    o.dispose();
    return seen.map((x) => [...x]);
  };
  const at = defaultHeap().pipeline;
  assert.ok(at > 0);
  // Fusing: the dense variable gets the record and the raw gradient (the kernel unscales and clamps); the sparse one is densified from the prepared gradient.
  assert.equal(run(spy(C), { lossScaleFactor: 4, clipvalue: 1 }), [['w', at, 8], ['t', 0, 0]]);
  // Separate passes: no record, the gradient unscaled and clamped by the base class.
  const P = plainOf(C);
  assert.equal(run(class extends P { static fusesPipeline = false; updateStep(g, v, lr) { seen.push([v.name, this.pipeline, g[0]]); super.updateStep(g, v, lr); } }, { lossScaleFactor: 4, clipvalue: 1 }), [['w', 0, 1], ['t', 0, 0]]);
  assert.is(new C()['pipeline'], 0, 'outside a step');
});

// ---------------------------------------------------------------- the record, and run()'s third argument

/** Writes the heap's record: every transform on (DIV, MUL, CLAMP, MUL2, DECAY, EMA), the average `delta` bytes from the weight. */
function writeRecord(delta, flags = 63) {
  const heap = defaultHeap();
  const i32 = new Int32Array(heap.memory.buffer, heap.pipeline, 9);
  const f32 = new Float32Array(heap.memory.buffer, heap.pipeline, 9);
  i32[0] = flags;
  f32.set([3, 0.7, 0.4, 0.9, 0.01, 0.9], 1);
  f32[7] = 1 - f32[6];
  i32[8] = delta;
  return heap.pipeline;
}

function arraysOf(n, seed) {
  const r = rng(seed);
  return {
    w: new Variable(Float32Array.from({ length: n }, () => r() * 4)),
    g: new Variable(Float32Array.from({ length: n }, () => r() * 6)),
    m: new Variable(Float32Array.from({ length: n }, () => r())),
    v: new Variable(Float32Array.from({ length: n }, () => Math.abs(r()))),
    avg: new Variable(Float32Array.from({ length: n }, () => r())),
  };
}
const SCALARS = { omb1: 0.1, omb2: 0.001, alpha: 0.01, eps: 1e-7 };
const bitsOf = (a) => ['w', 'g', 'm', 'v', 'avg'].map((k) => Array.from(new Uint32Array(a[k].value.slice().buffer)));
const disposeAll = (a) => Object.values(a).forEach((v) => v.dispose());

test('run(arrays, scalars, record): every flag of the record (unscale by division and by multiplication, clamp, clip factor, decay, EMA) = the separate optim.wasm passes, on every path, SIMD on and off', () => {
  const K = defaultHeap().kernels;
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      for (const mode of MODES) {
        const k = kernelOn(ADAM, mode);
        for (const flags of [63, 1 | 16, 2 | 4 | 32, 8, 16 | 32, 0]) {
          for (const n of [1, 7, 2051, 4100]) {
            const a = arraysOf(n, n + flags);
            const b = arraysOf(n, n + flags);
            k.run({ w: a.w, g: a.g, m: a.m, v: a.v }, SCALARS, writeRecord(a.avg.ptr - a.w.ptr, flags));
            // The separate passes, in the base class's order, into a copy of the gradient.
            const g = new Variable(b.g.value);
            if (flags & 1) K.divCopy(g.ptr, g.ptr, n, 3);
            if (flags & 2) K.scaleCopy(g.ptr, g.ptr, n, 0.7);
            if (flags & 4) K.clipByValue(g.ptr, n, 0.4);
            if (flags & 8) K.scaleCopy(g.ptr, g.ptr, n, 0.9);
            if (flags & 16) K.decay(b.w.ptr, n, 0.01);
            k.run({ w: b.w, g, m: b.m, v: b.v }, SCALARS, 0);
            if (flags & 32) K.ema(b.avg.ptr, b.w.ptr, n, 0.9);
            g.dispose();
            assert.equal(bitsOf(a), bitsOf(b), `${mode} flags ${flags} n=${n} SIMD ${simd}`);
            disposeAll(a);
            disposeAll(b);
          }
        }
      }
    } finally {
      setSimdEnabled(true);
    }
  }
});

test('a pipeline kernel whose body returns the weight unchanged still decays and averages it', () => {
  for (const mode of MODES) {
    const k = kernelOn({ name: 'keep', arrays: { w: 'inout', g: 'in', m: 'inout' }, pipeline: PIPE, body: ({ w, g, m }) => ({ w, m: m.add(g) }) }, mode);
    const a = arraysOf(9, 1);
    const w0 = a.w.value.slice(), avg0 = a.avg.value.slice();
    k.run({ w: a.w, g: a.g, m: a.m }, undefined, writeRecord(a.avg.ptr - a.w.ptr, 16 | 32));
    const w1 = w0.map((x) => f(x - f(x * f(0.01))));
    assert.equal(Array.from(a.w.value), Array.from(w1), mode);
    assert.equal(Array.from(a.avg.value), Array.from(avg0.map((x, i) => f(f(f(0.9) * x) + f(f(1 - f(0.9)) * w1[i])))), mode);
    disposeAll(a);
  }
});

test('run() accepts undefined and 0 (no pipeline: the kernel as without it)', () => {
  for (const mode of MODES) {
    const k = kernelOn(ADAM, mode);
    const plain = kernelOn({ ...ADAM, pipeline: undefined }, mode);
    const a = arraysOf(11, 2), b = arraysOf(11, 2), c = arraysOf(11, 2);
    writeRecord(0, 63); // a record lying there is not used
    k.run({ w: a.w, g: a.g, m: a.m, v: a.v }, SCALARS);
    k.run({ w: b.w, g: b.g, m: b.m, v: b.v }, SCALARS, 0);
    plain.run({ w: c.w, g: c.g, m: c.m, v: c.v }, SCALARS, 0);
    assert.equal(bitsOf(a), bitsOf(c), mode);
    assert.equal(bitsOf(b), bitsOf(c), mode);
    [a, b, c].forEach(disposeAll);
  }
});

test('run() refuses any other record address, a non-number, a record for a kernel without pipeline, an EMA average outside memory: nothing written', () => {
  const heap = defaultHeap();
  for (const mode of MODES) {
    const k = kernelOn(ADAM, mode);
    const plain = kernelOn({ ...ADAM, pipeline: undefined }, mode);
    const a = arraysOf(6, 3);
    const before = bitsOf(a);
    const args = { w: a.w, g: a.g, m: a.m, v: a.v };
    writeRecord(a.avg.ptr - a.w.ptr);
    for (const bad of [heap.pipeline + 4, heap.pipeline - 16, 16, a.w.ptr, -1, NaN, Infinity]) {
      assert.throws(() => k.run(args, SCALARS, bad), (e) => e instanceof RangeError && /run: pipeline must be 0 or this heap's pipeline record address \(this\.pipeline in updateStep\)/.test(e.message), `${mode} ${bad}`);
    }
    for (const bad of ['64', null, true, {}, 64n]) {
      assert.throws(() => k.run(args, SCALARS, bad), (e) => e instanceof TypeError && /run: pipeline must be a number \(this\.pipeline in updateStep\)/.test(e.message), `${mode} ${String(bad)}`);
    }
    assert.throws(() => plain.run(args, SCALARS, heap.pipeline), (e) => e instanceof TypeError && /run: pipeline: this kernel was defined without pipeline: \{ weight, gradient \}/.test(e.message));
    writeRecord(heap.memory.buffer.byteLength - a.w.ptr - 8); // the average would run past the end of memory
    assert.throws(() => k.run(args, SCALARS, heap.pipeline), (e) => e instanceof RangeError && /the pipeline record's EMA average .* does not lie inside wasm memory/.test(e.message));
    writeRecord(-a.w.ptr - 64);
    assert.throws(() => k.run(args, SCALARS, heap.pipeline), /does not lie inside wasm memory/);
    assert.equal(bitsOf(a), before, `${mode}: nothing written`);
    disposeAll(a);
  }
});

test('definition: pipeline is checked (shape, weight an inout array, gradient an in array, not on a reduction, the weight never aliased)', () => {
  const base = { name: 'k', arrays: { w: 'inout', g: 'in', x: 'in' }, scalars: ['lr'], body: ({ w, g, x }, { lr }) => ({ w: w.sub(g.mul(lr)).add(x) }) };
  const bad = [
    [{ pipeline: 'w' }, /kernel 'k': pipeline must be an object \{ weight, gradient \} naming the weight \('inout'\) and the gradient \('in'\) arrays, got the string 'w'/],
    [{ pipeline: null }, /pipeline must be an object/],
    [{ pipeline: { weight: 'w', gradient: 'g', ema: true } }, /kernel 'k': pipeline: unknown key 'ema' \(expected weight, gradient\)/],
    [{ pipeline: { weight: 'g', gradient: 'g' } }, /kernel 'k': pipeline.weight must name an 'inout' array .* got the string 'g'/],
    [{ pipeline: { gradient: 'g' } }, /pipeline.weight must name an 'inout' array .* got undefined/],
    [{ pipeline: { weight: 'w', gradient: 'w' } }, /kernel 'k': pipeline.gradient must name an 'in' array .* got the string 'w'/],
    [{ pipeline: { weight: 'w', gradient: 'q' } }, /pipeline.gradient must name an 'in' array/],
    [{ pipeline: PIPE, aliases: [['x', 'w']] }, /kernel 'k': aliases\[0\]: the pipeline's weight 'w' cannot be aliased/],
    [{ arrays: { g: 'in' }, reduce: 'sum', body: ({ g }) => g, pipeline: { weight: 'g', gradient: 'g' } }, /kernel 'k': a reduction kernel takes no pipeline/],
  ];
  for (const [over, message] of bad) assert.throws(() => kernel({ ...base, ...over }), (e) => e instanceof TypeError && message.test(e.message), JSON.stringify(over));
  // An alias of the gradient is allowed: the gradient is transformed on its load wherever it lies.
  const ok = kernel({ ...base, arrays: { w: 'inout', g: 'in', m: 'inout' }, pipeline: PIPE, aliases: [['g', 'm']], body: ({ w, g, m }) => ({ w: w.sub(g), m: g.mul(2) }) });
  assert.equal(ok.parameters.pipeline, { weight: 'w', gradient: 'g' });
  assert.is(kernel(base).parameters.pipeline, null);
});

test('precompiled modules tell pipeline kernels apart: fromModule refuses the module of the same body with or without pipeline', () => {
  const withP = kernel(ADAM);
  const without = kernel({ ...ADAM, pipeline: undefined });
  const other = kernel({ ...ADAM, pipeline: PIPE, name: 'renamed' });
  assert.is.not(withP.signature, without.signature);
  assert.is(other.signature, withP.signature, 'names do not matter');
  assert.throws(() => kernel({ ...ADAM, compile: false }).fromModule(new WebAssembly.Module(without.toBytes())), /compiled from a different kernel/);
  assert.throws(() => kernel({ ...ADAM, pipeline: undefined, compile: false }).fromModule(new WebAssembly.Module(withP.toBytes())), /compiled from a different kernel/);
  // A kernel without pipeline keeps the signature (and module) it had before pipelines existed.
  assert.not.match(without.signature, /pipeline/);
});

test('on a threaded arena (a child process per thread count): fused = separate passes on every path, and the bits of plain ready()', () => {
  const child = (threads) => JSON.parse(execFileSync(process.execPath, [repoFile('test', 'threads', 'fused-kernel.mjs'), String(threads)], { encoding: 'utf8', timeout: 120000 }).trim().split('\n').pop());
  const plain = child(0);
  const two = child(2);
  assert.is(two.threads, 2, `2 threads (${two.reason})`);
  assert.equal(Object.values(two.modes), ['compiled', 'fallback', 'precompiled', 'compiled', 'fallback', 'precompiled']);
  for (const [key, [fused, separate]] of Object.entries(two.hashes)) {
    assert.is(fused, separate, `${key}: fused vs separate passes, 2 threads`);
    assert.equal(plain.hashes[key], two.hashes[key], `${key}: 2 threads vs plain ready()`);
  }
  for (const name of ['decay', 'ema', 'clipByValue', 'scaleCopy']) assert.ok(two.splits[name] > 0, `${name} was split across threads (${JSON.stringify(two.splits)})`);
});

for (const which of ['compiled', 'fallback']) {
  test(`a pipeline kernel's run with the record allocates nothing per call (${which}, 200,000 calls, every flag on)`, () => {
    let r;
    for (let i = 0; i < 3; i++) {
      r = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', repoFile('test', 'helpers', 'alloc-probe-fused-kernel.mjs'), which], { encoding: 'utf8' }));
      if (r.collections === 0) break;
    }
    assert.is(r.mode, which);
    assert.is(r.collections, 0, JSON.stringify(r));
  });
}

test.run();
