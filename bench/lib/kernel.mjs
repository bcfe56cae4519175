// The `kernel` section: kernel() against what it replaces, at 1e6 elements.
// - Adam written with kernel() vs the built-in AssemblyScript Adam kernel (goal: within 1.1x);
// - AdaBelief written with kernel() vs the same update as a plain TypeScript loop over the views
//   (the first way in docs/custom-optimizer.md; goal: at least 8x faster);
// - the fallback (multi-pass over optim.wasm's primitives, for runtimes that forbid compiling) for both;
// - compile time of a kernel: recording + checking + emitting + WebAssembly.Module, cold (goal < 5 ms).
// Each contender is one call over the arrays (no optimizer around it). Medians of alternating samples.
import * as wo from '../../build/index.js';
import { define } from '../../build/kernel/define.js';
import { emitModule } from '../../build/kernel/emit.js';
import { randomFloats } from './contenders.mjs';
import { race } from './measure.mjs';

const ADAM = {
  name: 'adam',
  arrays: { w: 'inout', g: 'in', m: 'inout', v: 'inout' },
  scalars: ['omb1', 'omb2', 'alpha', 'eps'],
  body: ({ w, g, m, v }, { omb1, omb2, alpha, eps }) => {
    const m1 = m.add(g.sub(m).mul(omb1));
    const v1 = v.add(g.mul(g).sub(v).mul(omb2));
    return { m: m1, v: v1, w: w.sub(m1.mul(alpha).div(v1.sqrt().add(eps))) };
  },
};
// examples/custom-optimizers/adabelief.ts
const ADABELIEF = {
  name: 'adabelief',
  arrays: { w: 'inout', g: 'in', m: 'inout', s: 'inout' },
  scalars: ['omb1', 'omb2', 'eps', 'stepSize', 'epsHat'],
  body: ({ w, g, m, s }, { omb1, omb2, eps, stepSize, epsHat }) => {
    const m1 = m.add(g.sub(m).mul(omb1));
    const d = g.sub(m1);
    const s1 = s.add(d.mul(d).sub(s).mul(omb2)).add(eps);
    return { m: m1, s: s1, w: w.sub(stepSize.mul(m1).div(s1.sqrt().add(epsHat))) };
  },
};

function arrays(n, names) {
  const vars = {};
  names.forEach((a, k) => {
    const x = randomFloats(n, -1, 1, 11 + k);
    vars[a] = new wo.Variable(a === 'v' || a === 's' ? x.map(Math.abs) : x.map((y) => y * 0.01), { name: a });
  });
  return vars;
}

/** Cold compile time: a fresh definition each time (the module cache is bypassed). */
function compileTimes(spec, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const plan = define(spec);
    new WebAssembly.Module(emitModule(plan));
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[times.length >> 1], maxMs: times[times.length - 1], bytes: emitModule(define(spec)).length };
}

export async function runKernelBench({ samples = 11, minMs = 10, n = 1e6 } = {}) {
  await wo.ready();
  const K = wo.defaultHeap().kernels;
  const adam = wo.kernel(ADAM);
  const adamFallback = wo.kernel({ ...ADAM, compile: false });
  const belief = wo.kernel(ADABELIEF);
  const beliefFallback = wo.kernel({ ...ADABELIEF, compile: false });
  const a = arrays(n, ['w', 'g', 'm', 'v']);
  const b = arrays(n, ['w', 'g', 'm', 's']);
  const adamScalars = { omb1: 0.1, omb2: 0.001, alpha: 1e-6, eps: 1e-7 };
  const beliefScalars = { omb1: 0.1, omb2: 0.001, eps: 1e-16, stepSize: 1e-6, epsHat: 1e-18 };
  const beliefArgs = { w: b.w, g: b.g, m: b.m, s: b.s };
  const loop = (reps) => {
    // The plain TypeScript loop: the same AdaBelief update over the views, in float64 JS numbers.
    const { omb1, omb2, eps, stepSize, epsHat } = beliefScalars;
    for (let r = 0; r < reps; r++) {
      const w = b.w.value, g = b.g.value, m = b.m.value, s = b.s.value;
      for (let i = 0; i < w.length; i++) {
        const mi = m[i] + (g[i] - m[i]) * omb1;
        const d = g[i] - mi;
        const si = s[i] + (d * d - s[i]) * omb2 + eps;
        m[i] = mi;
        s[i] = si;
        w[i] -= (stepSize * mi) / (Math.sqrt(si) + epsHat);
      }
    }
  };
  const contenders = [
    { id: 'adam builtin', run: (reps) => { for (let r = 0; r < reps; r++) K.adam(a.w.ptr, a.g.ptr, a.m.ptr, a.v.ptr, n, 0.1, 0.001, 1e-6, 1e-7); } },
    { id: 'adam kernel()', run: (reps) => { for (let r = 0; r < reps; r++) adam.run(a, adamScalars); } },
    { id: 'adam fallback', run: (reps) => { for (let r = 0; r < reps; r++) adamFallback.run(a, adamScalars); } },
    { id: 'adabelief kernel()', run: (reps) => { for (let r = 0; r < reps; r++) belief.run(beliefArgs, beliefScalars); } },
    { id: 'adabelief plain loop', run: loop },
    { id: 'adabelief fallback', run: (reps) => { for (let r = 0; r < reps; r++) beliefFallback.run(beliefArgs, beliefScalars); } },
  ];
  const stats = await race(contenders, { samples, minMs });
  const ms = (id) => stats.get(id).ms;
  const result = {
    n,
    ms: Object.fromEntries([...stats].map(([id, s]) => [id, s.ms])),
    adamRatio: ms('adam kernel()') / ms('adam builtin'),
    adamFallbackRatio: ms('adam fallback') / ms('adam builtin'),
    adabeliefSpeedup: ms('adabelief plain loop') / ms('adabelief kernel()'),
    adabeliefFallbackRatio: ms('adabelief fallback') / ms('adabelief kernel()'),
    compile: { adam: compileTimes(ADAM, 25), adabelief: compileTimes(ADABELIEF, 25) },
    modes: { adam: adam.mode, fallback: adamFallback.mode },
  };
  for (const v of [...Object.values(a), ...Object.values(b)]) v.dispose();
  adamFallback.release();
  beliefFallback.release();
  return result;
}

/** Lines for the console and BENCHMARKS.md. */
export function kernelTable(r) {
  if (r.error) return [`kernel() section failed: ${r.error}`];
  const f = (x) => x.toFixed(3);
  return [
    `### kernel(): custom updates compiled at run time (${r.n.toExponential(0)} elements, one call)`,
    '',
    '| what | ms | ratio |',
    '|---|---:|---|',
    `| Adam, built-in AssemblyScript kernel | ${f(r.ms['adam builtin'])} | 1 |`,
    `| Adam written with kernel() | ${f(r.ms['adam kernel()'])} | ${r.adamRatio.toFixed(2)}x the built-in (goal <= 1.1x) |`,
    `| Adam with kernel(), fallback path | ${f(r.ms['adam fallback'])} | ${r.adamFallbackRatio.toFixed(2)}x the built-in |`,
    `| AdaBelief, plain TypeScript loop | ${f(r.ms['adabelief plain loop'])} | ${r.adabeliefSpeedup.toFixed(1)}x kernel() |`,
    `| AdaBelief written with kernel() | ${f(r.ms['adabelief kernel()'])} | 1 (goal: loop >= 8x this) |`,
    `| AdaBelief with kernel(), fallback path | ${f(r.ms['adabelief fallback'])} | ${r.adabeliefFallbackRatio.toFixed(2)}x kernel() |`,
    '',
    `Compile time (record, check, emit, WebAssembly.Module; median of 25 cold): Adam ${r.compile.adam.medianMs.toFixed(2)} ms ` +
      `(${r.compile.adam.bytes} bytes), AdaBelief ${r.compile.adabelief.medianMs.toFixed(2)} ms (${r.compile.adabelief.bytes} bytes); goal < 5 ms.`,
  ];
}
