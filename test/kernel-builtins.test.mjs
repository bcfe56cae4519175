// Proof that kernel() is as exact as hand-written AssemblyScript: Adam, Nadam, Lion and Adagrad
// re-expressed with kernel(), in the operation order of assembly/adam.ts, nadam.ts, lion.ts and
// adagrad.ts, give the same bits as those built-in kernels (weights and slots, several steps),
// compiled and through the fallback, SIMD on and off.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, Variable, kernel, defaultHeap, setSimdEnabled } from '../build/index.js';
import { rng } from './helpers/random.mjs';

await ready();
const K = defaultHeap().kernels;
const SIZES = [1, 3, 5, 17, 1023, 100000];

const defs = {
  adam: {
    arrays: { w: 'inout', g: 'in', m: 'inout', v: 'inout' },
    scalars: ['omb1', 'omb2', 'alpha', 'eps'],
    body: ({ w, g, m, v }, { omb1, omb2, alpha, eps }) => {
      const m1 = m.add(g.sub(m).mul(omb1));
      const v1 = v.add(g.mul(g).sub(v).mul(omb2));
      return { m: m1, v: v1, w: w.sub(m1.mul(alpha).div(v1.sqrt().add(eps))) };
    },
    // Adam's TS class: omb1 = 1 - b1, omb2 = 1 - b2, alpha = lr * sqrt(1 - b2^t) / (1 - b1^t) (float32 steps).
    scalarsAt: (t) => {
      const b1t = Math.fround(0.9 ** t), b2t = Math.fround(0.999 ** t);
      return { omb1: 1 - 0.9, omb2: 1 - 0.999, alpha: Math.fround(Math.fround(0.01 * Math.fround(Math.sqrt(Math.fround(1 - b2t)))) / Math.fround(1 - b1t)), eps: 1e-7 };
    },
    builtin: (p, s, n) => K.adam(p.w, p.g, p.m, p.v, n, s.omb1, s.omb2, s.alpha, s.eps),
  },
  nadam: {
    arrays: { w: 'inout', g: 'in', m: 'inout', v: 'inout' },
    scalars: ['omb1', 'omb2', 'cm', 'cg', 'ibc2', 'lr', 'eps'],
    body: ({ w, g, m, v }, { omb1, omb2, cm, cg, ibc2, lr, eps }) => {
      const m1 = m.add(g.sub(m).mul(omb1));
      const v1 = v.add(g.mul(g).sub(v).mul(omb2));
      const mh = cm.mul(m1).add(cg.mul(g));
      return { m: m1, v: v1, w: w.sub(mh.mul(lr).div(v1.mul(ibc2).sqrt().add(eps))) };
    },
    // Nadam's TS class: mu_t = b1 * (1 - 0.5 * 0.96^(0.004 t)), cm, cg from the momentum product.
    scalarsAt: (t) => {
      const mu = (s) => 0.9 * (1 - 0.5 * 0.96 ** (0.004 * s));
      let prod = 1;
      for (let s = 1; s <= t; s++) prod *= mu(s);
      return { omb1: 0.1, omb2: 0.001, cm: mu(t + 1) / (1 - prod * mu(t + 1)), cg: (1 - mu(t)) / (1 - prod), ibc2: 1 / (1 - 0.999 ** t), lr: 0.01, eps: 1e-7 };
    },
    builtin: (p, s, n) => K.nadam(p.w, p.g, p.m, p.v, n, s.omb1, s.omb2, s.cm, s.cg, s.ibc2, s.lr, s.eps),
  },
  lion: {
    arrays: { w: 'inout', g: 'in', m: 'inout' },
    scalars: ['b1', 'omb1', 'b2', 'omb2', 'lr'],
    body: ({ w, g, m }, { b1, omb1, b2, omb2, lr }) => {
      const c = b1.mul(m).add(omb1.mul(g));
      return { w: w.sub(lr.mul(c.sign())), m: b2.mul(m).add(omb2.mul(g)) };
    },
    scalarsAt: () => ({ b1: 0.9, omb1: 1 - 0.9, b2: 0.99, omb2: 1 - 0.99, lr: 0.001 }),
    builtin: (p, s, n) => K.lion(p.w, p.g, p.m, n, s.b1, s.omb1, s.b2, s.omb2, s.lr),
  },
  adagrad: {
    arrays: { w: 'inout', g: 'in', acc: 'inout' },
    scalars: ['lr', 'eps'],
    body: ({ w, g, acc }, { lr, eps }) => {
      const a1 = acc.add(g.mul(g));
      return { acc: a1, w: w.sub(lr.mul(g).div(a1.add(eps).sqrt())) };
    },
    scalarsAt: () => ({ lr: 0.01, eps: 1e-7 }),
    builtin: (p, s, n) => K.adagrad(p.w, p.g, p.acc, n, s.lr, s.eps),
  },
};

const bitsEqual = (a, b) => {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
};

for (const [name, d] of Object.entries(defs)) {
  for (const compile of [true, false]) {
    const k = kernel({ name, arrays: d.arrays, scalars: d.scalars, body: d.body, compile });
    test(`${name} via kernel() (${k.mode}) = assembly/${name}.ts bit for bit, sizes ${SIZES.join(', ')}, 5 steps, SIMD and scalar`, () => {
      assert.is(k.mode, compile ? 'compiled' : 'fallback');
      for (const simd of [true, false]) {
        setSimdEnabled(simd);
        try {
          for (const n of SIZES) {
            const r = rng(n + 7);
            const init = {};
            for (const a of Object.keys(d.arrays)) init[a] = a === 'v' || a === 'acc' ? r.f32(n).map(Math.abs) : r.f32(n);
            const mine = {};
            const theirs = {};
            for (const a of Object.keys(d.arrays)) {
              mine[a] = new Variable(init[a], { name: `${a}1` });
              theirs[a] = new Variable(init[a], { name: `${a}2` });
            }
            for (let t = 1; t <= 5; t++) {
              const g = r.f32(n);
              if (t === 3) g[0] = 0; // sign(0), a zero gradient
              mine.g.value.set(g);
              theirs.g.value.set(g);
              const s = d.scalarsAt(t);
              k.run(mine, s);
              const ptrs = Object.fromEntries(Object.entries(theirs).map(([a, v]) => [a, v.ptr]));
              d.builtin(ptrs, s, n);
            }
            for (const a of Object.keys(d.arrays)) {
              const at = bitsEqual(mine[a].value, theirs[a].value);
              assert.is(at, -1, `${name} n=${n} simd=${simd} ${a}[${at}]: ${mine[a].value[at]} vs ${theirs[a].value[at]}`);
            }
            for (const v of [...Object.values(mine), ...Object.values(theirs)]) v.dispose();
          }
        } finally {
          setSimdEnabled(true);
        }
      }
    });
  }
}

test.run();
