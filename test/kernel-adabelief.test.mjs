// examples/custom-optimizers/adabelief.ts (an optimizer whose update is a kernel()) against a
// float64 reference of AdaBelief over several steps, through the conformance harness (sizes 1..1023
// and a table, null and sparse gradients, base-class options, SIMD = scalar bit for bit); its
// kernel through the fallback gives the same bits; config and state round-trip.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ready, Variable, kernel, deserialize } from '../build/index.js';
import { importTs, repoFile } from './helpers/load-ts.mjs';
import { baseCombos, conformance } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';

await ready();
// Imported when this suite starts, not at load: test/custom-kernel.test.mjs registers its own
// AdaBelief under the same className, and uvu loads every file before running any suite.
let AdaBelief, adabeliefKernel;
test.before(async () => {
  ({ AdaBelief, adabeliefKernel } = await importTs(readFileSync(repoFile('examples/custom-optimizers/adabelief.ts'), 'utf8'), 'adabelief-kernel'));
});

/** AdaBelief as the paper writes it (bias-corrected m and s, eps inside s and after the sqrt), in float64. */
const reference = {
  defaults: { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-16 },
  slots: () => ({ m: 0, s: 0 }),
  update(g, w, st, lr, t, o) {
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = 1 - o.beta2 ** t;
    for (let i = 0; i < w.length; i++) {
      st.m[i] = o.beta1 * st.m[i] + (1 - o.beta1) * g[i];
      const d = g[i] - st.m[i];
      st.s[i] = o.beta2 * st.s[i] + (1 - o.beta2) * d * d + o.epsilon;
      w[i] -= (lr * (st.m[i] / bc1)) / (Math.sqrt(st.s[i] / bc2) + o.epsilon);
    }
  },
};

test('examples/custom-optimizers/adabelief.ts: the kernel is compiled here', () => {
  assert.is(adabeliefKernel.mode, 'compiled');
});

test('AdaBelief via kernel() matches its float64 reference (12 steps, sizes 1..1023 and a table, SIMD = scalar bits)', () => {
  conformance(AdaBelief, reference, { learningRate: 0.02, beta1: 0.5, beta2: 0.99, epsilon: 1e-8 });
  conformance(AdaBelief, reference, {}, { steps: 10, seed: 3 }); // the defaults
});

test('AdaBelief via kernel() matches its reference under base-class options (every 8th of the 128 combinations)', () => {
  baseCombos().filter((_, i) => i % 8 === 0).forEach((b) => conformance(AdaBelief, reference, { learningRate: 0.01, ...b }));
});

test('the AdaBelief kernel through the fallback gives the same bits as compiled', () => {
  const fallback = kernel({ name: 'adabelief', arrays: { w: 'inout', g: 'in', m: 'inout', s: 'inout' }, scalars: ['omb1', 'omb2', 'eps', 'stepSize', 'epsHat'], compile: false, pipeline: { weight: 'w', gradient: 'g' },
    body: ({ w, g, m, s }, { omb1, omb2, eps, stepSize, epsHat }) => {
      const m1 = m.add(g.sub(m).mul(omb1));
      const d = g.sub(m1);
      const s1 = s.add(d.mul(d).sub(s).mul(omb2)).add(eps);
      return { m: m1, s: s1, w: w.sub(stepSize.mul(m1).div(s1.sqrt().add(epsHat))) };
    } });
  assert.is(fallback.mode, 'fallback');
  assert.is(fallback.signature, adabeliefKernel.signature);
  for (const n of [1, 5, 1023, 10007]) {
    const r = rng(n);
    const init = [r.f32(n), r.f32(n), r.f32(n), r.f32(n).map(Math.abs)];
    const a = init.map((x) => new Variable(x));
    const b = init.map((x) => new Variable(x));
    for (let t = 1; t <= 4; t++) {
      const g = r.f32(n);
      a[1].value.set(g);
      b[1].value.set(g);
      const s = { omb1: 0.1, omb2: 0.001, eps: 1e-8, stepSize: 0.01 * t, epsHat: 1e-9 };
      adabeliefKernel.run({ w: a[0], g: a[1], m: a[2], s: a[3] }, s);
      fallback.run({ w: b[0], g: b[1], m: b[2], s: b[3] }, s);
    }
    a.forEach((v, k) => assert.equal(new Uint32Array(v.value.slice().buffer), new Uint32Array(b[k].value.slice().buffer), `n=${n} array ${k}`));
  }
});

test('AdaBelief via kernel(): config and state round-trip', () => {
  const w = new Variable(new Float32Array([1, -2, 3]), { name: 'w' });
  const opt = new AdaBelief({ learningRate: 0.1, beta1: 0.8 });
  opt.applyGradients([[new Float32Array([0.5, 0.5, -1]), w]]);
  const copy = deserialize({ className: 'AdaBelief', config: opt.getConfig() });
  assert.is(copy.beta1, 0.8);
  const w2 = new Variable(w.value.slice(), { name: 'w' });
  copy.setState(opt.getState(), [w2]);
  opt.applyGradients([[new Float32Array([1, 2, 3]), w]]);
  copy.applyGradients([[new Float32Array([1, 2, 3]), w2]]);
  assert.equal(Array.from(w2.value), Array.from(w.value));
});

test('docs/custom-optimizer.md: the kernel() excerpts are verbatim copies of the example; the Speed section recommends kernel()', () => {
  const md = readFileSync(repoFile('docs', 'custom-optimizer.md'), 'utf8');
  const re = /<!-- excerpt: (\S+) -->\s*```ts\n([\s\S]*?)```/g;
  let count = 0;
  for (const [, file, code] of md.matchAll(re)) {
    assert.ok(readFileSync(repoFile(file), 'utf8').includes(code), `the excerpt of ${file} is not in the file any more`);
    count++;
  }
  assert.ok(count >= 1);
  assert.match(md, /## Speed: write the update as a `kernel\(\)` \(recommended\)/);
});

test.run();
