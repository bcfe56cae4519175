// Every kernel() operation against a float32 reference (each operation rounded with Math.fround),
// on special values (±0, ±Infinity, NaN, subnormals, huge and tiny numbers), with the four ways
// of running it giving the same bits: compiled SIMD, compiled scalar (setSimdEnabled(false)),
// fallback SIMD, fallback scalar. Reductions follow the documented accumulation order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, Variable, kernel, setSimdEnabled } from '../build/index.js';
import { rng } from './helpers/random.mjs';

await ready();
const f = Math.fround;
const SPECIAL = [0, -0, 1, -1, 0.5, -2.5, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1e-40, 3.4e38, -3.4e38, 1e-30, 7, 1e10, -3];

function inputs(n, seed) {
  const r = rng(seed);
  const a = r.f32(n);
  const b = r.f32(n);
  // Every pair of special values in the first elements, random values after.
  for (let i = 0; i < n; i++) {
    if (i < SPECIAL.length * SPECIAL.length) {
      a[i] = SPECIAL[i % SPECIAL.length];
      b[i] = SPECIAL[Math.floor(i / SPECIAL.length)];
    }
  }
  return { a, b };
}

const bits = (x) => new Uint32Array(Float32Array.from(x).buffer);
const sameBits = (x, y) => {
  const p = bits(x), q = bits(y);
  for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) return i;
  return -1;
};

// name, body(a, b, s, ops) over arrays a, b and scalar s, reference per element (float32 steps)
const CASES = [
  ['add', (a, b) => a.add(b), (a, b) => f(a + b)],
  ['sub', (a, b) => a.sub(b), (a, b) => f(a - b)],
  ['mul', (a, b) => a.mul(b), (a, b) => f(a * b)],
  ['div', (a, b) => a.div(b), (a, b) => f(a / b)],
  ['min', (a, b) => a.min(b), (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a === b ? (Object.is(a, -0) || Object.is(b, -0) ? (a === 0 ? -0 : a) : a) : Math.min(a, b))],
  ['max', (a, b) => a.max(b), (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a === b ? (Object.is(a, 0) || Object.is(b, 0) ? (a === 0 ? 0 : a) : a) : Math.max(a, b))],
  ['neg', (a) => a.neg(), (a) => -a],
  ['abs', (a) => a.abs(), (a) => Math.abs(a)],
  ['sqrt', (a) => a.sqrt(), (a) => f(Math.sqrt(a))],
  ['sign', (a) => a.sign(), (a) => (a > 0 ? 1 : a < 0 ? -1 : a === 0 ? 0 : NaN)],
  ['add a number', (a) => a.add(0.1), (a) => f(a + f(0.1))],
  ['mul by a scalar', (a, b, s) => a.mul(s), (a, b, s) => f(a * f(s))],
  ['mulAdd (multiply, then add)', (a, b, s) => a.mulAdd(b, s), (a, b, s) => f(f(a * b) + f(s))],
  ['clamp', (a, b, s) => a.clamp(s.neg(), s), (a, b, s) => { const lo = -f(s), hi = f(s); const m = Number.isNaN(a) ? NaN : Math.max(a, lo); return Number.isNaN(m) ? NaN : Math.min(m, hi); }],
  ['where(a < b, a, b)', (a, b, s, o) => o.where(a.lt(b), a, b), (a, b) => (a < b ? a : b)],
  ['where(a <= b, 1, 2)', (a, b, s, o) => o.where(a.le(b), 1, 2), (a, b) => (a <= b ? 1 : 2)],
  ['where(a > 0, a, b * 2)', (a, b, s, o) => o.where(a.gt(0), a, b.mul(2)), (a, b) => (a > 0 ? a : f(b * 2))],
  ['where(a >= s, s, a)', (a, b, s, o) => o.where(a.ge(s), s, a), (a, b, s) => (a >= f(s) ? f(s) : a)],
  ['where(a == b, 0, a)', (a, b, s, o) => o.where(a.eq(b), 0, a), (a, b) => (a === b ? 0 : a)],
  ['where(a != a, 0, a) (NaN to zero)', (a, b, s, o) => o.where(a.ne(a), 0, a), (a) => (Number.isNaN(a) ? 0 : a)],
  ['ops.* forms', (a, b, s, o) => o.mulAdd(o.sqrt(o.abs(a)), o.max(b, o.neg(b)), o.sign(o.min(a, o.clamp(b, -1, 1)))), (a, b) => {
    const sq = f(Math.sqrt(Math.abs(a)));
    const mx = Number.isNaN(b) ? NaN : Math.abs(b);
    const cl = Number.isNaN(b) ? NaN : Math.min(Math.max(b, -1), 1);
    const mn = Number.isNaN(a) || Number.isNaN(cl) ? NaN : Math.min(a, cl);
    const sg = mn > 0 ? 1 : mn < 0 ? -1 : mn === 0 ? 0 : NaN;
    return f(f(sq * mx) + sg);
  }],
];

for (const [name, body, ref] of CASES) {
  test(`op ${name}: float32 reference; compiled and fallback, SIMD and scalar, same bits`, () => {
    const results = [];
    for (const compile of [true, false]) {
      const k = kernel({ name: 'op', arrays: { out: 'inout', a: 'in', b: 'in' }, scalars: ['s'], body: ({ a, b }, { s }, ops) => ({ out: body(a, b, s, ops) }), compile });
      assert.is(k.mode, compile ? 'compiled' : 'fallback');
      assert.ok(WebAssembly.validate(k.toBytes()));
      for (const simd of [true, false]) {
        setSimdEnabled(simd);
        try {
          for (const n of [SPECIAL.length ** 2 + 5, 1, 3, 5]) {
            const { a, b } = inputs(n, n);
            const va = new Variable(a), vb = new Variable(b), out = Variable.zeros([n]);
            k.run({ out, a: va, b: vb }, { s: 0.75 });
            const got = out.value.slice();
            for (let i = 0; i < n; i++) {
              const want = ref(a[i], b[i], 0.75);
              const ok = Number.isNaN(want) ? Number.isNaN(got[i]) : Object.is(got[i], f(want));
              assert.ok(ok, `${name} (${k.mode}, simd=${simd}) [${i}] ${a[i]}, ${b[i]} -> ${got[i]}, expected ${want}`);
            }
            if (n > 5) results.push([`${k.mode} simd=${simd}`, got]);
            for (const v of [va, vb, out]) v.dispose();
          }
        } finally {
          setSimdEnabled(true);
        }
      }
    }
    for (const [label, r] of results.slice(1)) {
      const at = sameBits(results[0][1], r);
      assert.is(at, -1, `${name}: ${label} differs from ${results[0][0]} at [${at}] (${r[at]} vs ${results[0][1][at]})`);
    }
  });
}

test('sign: a NaN gives all bits set (0xFFFFFFFF) in every path; min and max give the NaN 0x7FC00000', () => {
  for (const compile of [true, false]) {
    const k = kernel({ name: 'nan', arrays: { s: 'inout', lo: 'inout', hi: 'inout', a: 'in' }, body: ({ a, s, lo, hi }) => ({ s: a.sign(), lo: a.min(s), hi: hi.max(a) }), compile });
    for (const simd of [true, false]) {
      setSimdEnabled(simd);
      try {
        const a = new Variable(new Float32Array([NaN, -NaN, 1, NaN, NaN])), s = Variable.zeros([5]), lo = Variable.zeros([5]), hi = Variable.zeros([5]);
        k.run({ a, s, lo, hi });
        const u = (v) => Array.from(new Uint32Array(v.value.buffer, v.value.byteOffset, 5));
        assert.equal(u(s).filter((_, i) => i !== 2), [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], `sign ${compile} ${simd}`);
        assert.equal(u(lo).filter((_, i) => i !== 2), [0x7fc00000, 0x7fc00000, 0x7fc00000, 0x7fc00000], `min ${compile} ${simd}`);
        assert.equal(u(hi).filter((_, i) => i !== 2), [0x7fc00000, 0x7fc00000, 0x7fc00000, 0x7fc00000], `max ${compile} ${simd}`);
      } finally {
        setSimdEnabled(true);
      }
    }
  }
});

/** The documented reduction order, in float64 JS (sum kinds) or float32 (max kinds). */
function referenceReduce(kind, x) {
  const n = x.length;
  const g = n & ~3;
  const term = (v) => (kind === 'sumOfSquares' ? v * v : kind === 'maxAbs' ? Math.abs(v) : v);
  const isSum = kind === 'sum' || kind === 'sumOfSquares';
  const comb = isSum ? (p, q) => p + q : (p, q) => (Number.isNaN(p) || Number.isNaN(q) ? NaN : Math.max(p, q));
  const lanes = [0, 1, 2, 3].map(() => (kind === 'max' ? -Infinity : 0));
  for (let i = 0; i < g; i++) lanes[i % 4] = comb(lanes[i % 4], term(x[i]));
  let r = comb(comb(lanes[0], lanes[2]), comb(lanes[1], lanes[3]));
  for (let i = g; i < n; i++) r = comb(r, term(x[i]));
  return r;
}

for (const kind of ['sum', 'sumOfSquares', 'max', 'maxAbs']) {
  test(`reduction ${kind}: the documented order (4 lanes, (l0 + l2) + (l1 + l3), then the tail), every path the same number`, () => {
    for (const n of [0, 1, 3, 4, 5, 17, 1023, 2048, 5001]) {
      const r = rng(n + 100);
      const x = r.f32(Math.max(n, 1)).subarray(0, n).map((v, i) => (i % 97 === 5 ? v * 1e6 : v));
      const y = r.f32(Math.max(n, 1)).subarray(0, n);
      const want = referenceReduce(kind, Float32Array.from(x, (v, i) => f(f(v * y[i]) - 0.5)));
      for (const compile of [true, false]) {
        const k = kernel({ name: kind, arrays: { x: 'in', y: 'in' }, reduce: kind, body: ({ x, y }) => x.mul(y).sub(0.5), compile });
        assert.ok(WebAssembly.validate(k.toBytes()));
        for (const simd of [true, false]) {
          setSimdEnabled(simd);
          try {
            const vx = n ? new Variable(x) : null, vy = n ? new Variable(y) : null;
            const got = n ? k.run({ x: vx, y: vy }) : k.run({ x: Variable.zeros([1]).value.subarray(0, 0), y: Variable.zeros([1]).value.subarray(0, 0) });
            assert.ok(Object.is(got, want), `${kind} n=${n} ${k.mode} simd=${simd}: ${got} vs ${want}`);
            vx?.dispose();
            vy?.dispose();
          } finally {
            setSimdEnabled(true);
          }
        }
      }
    }
  });
}

test('reductions of NaN are NaN; max of nothing is -Infinity, sums and maxAbs of nothing are 0', () => {
  for (const kind of ['sum', 'sumOfSquares', 'max', 'maxAbs']) {
    for (const compile of [true, false]) {
      const k = kernel({ name: 'r', arrays: { x: 'in' }, reduce: kind, body: ({ x }) => x, compile });
      const v = new Variable(new Float32Array([1, 2, NaN, 4, 5]));
      assert.ok(Number.isNaN(k.run({ x: v })), `${kind} ${compile}`);
      assert.is(k.run({ x: v.value.subarray(0, 0) }), kind === 'max' ? -Infinity : 0);
      v.dispose();
    }
  }
});

test('common subexpressions are computed once: writing one twice records the same graph', () => {
  const spec = (twice) => ({
    name: 'cse', arrays: { w: 'inout', g: 'in' }, scalars: ['a'],
    body: ({ w, g }, { a }) => ({ w: twice ? w.sub(g.mul(g).mul(a)).add(g.mul(g).mul(a)) : ((t) => w.sub(t).add(t))(g.mul(g).mul(a)) }),
  });
  const k1 = kernel(spec(true));
  const k2 = kernel(spec(false));
  assert.is(k1.signature, k2.signature);
  assert.is((k1.signature.match(/mul\(/g) ?? []).length, 2, k1.signature);
  assert.equal(Array.from(k1.toBytes()), Array.from(k2.toBytes()));
});

test('outputs are written after every read of the element: swapping two arrays works in every path', () => {
  for (const compile of [true, false]) {
    const k = kernel({ name: 'swap', arrays: { a: 'inout', b: 'inout' }, body: ({ a, b }) => ({ a: b, b: a.add(b) }), compile });
    const n = 5000;
    const a = new Variable(Float32Array.from({ length: n }, (_, i) => i));
    const b = new Variable(Float32Array.from({ length: n }, (_, i) => -2 * i));
    k.run({ a, b });
    for (let i = 0; i < n; i++) {
      assert.is(a.value[i], -2 * i);
      assert.is(b.value[i], -i);
    }
  }
});

test('a declared alias: the same memory as an in and an inout array gives the fused result', () => {
  for (const compile of [true, false]) {
    const k = kernel({ name: 'alias', arrays: { w: 'inout', g: 'in' }, aliases: [['g', 'w']], body: ({ w, g }) => ({ w: w.add(g.mul(w)) }), compile });
    const n = 4099;
    const init = rng(3).f32(n);
    const w = new Variable(init);
    k.run({ w, g: w.value });
    for (let i = 0; i < n; i++) assert.ok(Object.is(w.value[i], f(init[i] + f(init[i] * init[i]))), `${i}`);
  }
});

test('arrays may be views of wasm memory (a gradient), not only Variables; unaligned views too', () => {
  const k = kernel({ name: 'views', arrays: { w: 'inout', g: 'in' }, scalars: ['lr'], body: ({ w, g }, { lr }) => ({ w: w.sub(g.mul(lr)) }) });
  const w = new Variable(new Float32Array(10).fill(1));
  const g = new Variable(new Float32Array(11).fill(2));
  k.run({ w: w.value.subarray(1), g: g.value.subarray(2) }, { lr: 0.25 });
  assert.equal(Array.from(w.value), [1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
});

test('the emitted module, read back by binaryen: valid; scalars and constants splatted once before the loops; every node a local', async () => {
  const { default: binaryen } = await import('binaryen');
  const k = kernel({
    name: 'adam', arrays: { w: 'inout', g: 'in', m: 'inout', v: 'inout' }, scalars: ['omb1', 'omb2', 'alpha', 'eps'],
    body: ({ w, g, m, v }, { omb1, omb2, alpha, eps }) => {
      const m1 = m.add(g.sub(m).mul(omb1));
      const v1 = v.add(g.mul(g).sub(v).mul(omb2));
      return { m: m1, v: v1, w: w.sub(m1.mul(alpha).div(v1.sqrt().add(eps)).mul(0.5)) };
    },
  });
  const mod = binaryen.readBinary(k.toBytes());
  mod.setFeatures(binaryen.Features.All);
  assert.ok(mod.validate(), 'binaryen validates it');
  const wat = mod.emitText();
  mod.dispose();
  const firstLoop = wat.indexOf('(loop');
  const splats = [...wat.matchAll(/f32x4\.splat/g)].map((m) => m.index);
  assert.is(splats.length, 5, 'four scalars and one constant, splatted once each');
  assert.ok(splats.every((i) => i < firstLoop), 'all splats come before the first loop');
  assert.is((wat.match(/\(loop/g) ?? []).length, 2, 'an f32x4 loop and a scalar loop');
  assert.match(wat, /\(import "env" "memory" \(memory/);
  assert.is((wat.match(/v128\.load/g) ?? []).length, 4, 'each array loaded once per iteration');
  assert.is((wat.match(/v128\.store/g) ?? []).length, 3, 'each output stored once per iteration');
});

test.run();
