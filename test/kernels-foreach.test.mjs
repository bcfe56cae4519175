// kernels.mul / div / sqrt / addcmul / addcdiv / lerp / maximum / sign (the torch._foreach_*
// family, in place on the first argument): each against a float64 reference that rounds every step
// with Math.fround in the documented order (so results match bit for bit), SIMD = scalar bit for
// bit, the same view as input and output, every argument check with nothing changed on error, and
// no allocation per call (in a fresh process).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { ready, Variable, Arena, kernels, defaultHeap, setSimdEnabled, instantiateKernels, kernelModule } from '../build/index.js';
import { rng } from './helpers/random.mjs';
import { repoFile } from './helpers/load-ts.mjs';

await ready();

const fr = Math.fround;
const SIZES = [0, 1, 3, 4, 5, 17, 1023];
const f32bits = (x) => new Uint32Array(new Float32Array([x]).buffer)[0];
const fromBits = (u) => new Float32Array(new Uint32Array([u]).buffer)[0];
const SPECIAL = [0, -0, Infinity, -Infinity, NaN, fromBits(1), -fromBits(0x007fffff), fromBits(0x00800000), 3.4028234663852886e38, -3.4028234663852886e38, 1, -1, 0.5, -0.5, 2].map(fr);

/** n values: normals of the given scale, with special values at every 7th element when `special`. */
function values(n, seed, { scale = 1, special = true, positive = false } = {}) {
  const r = rng(seed);
  return Float32Array.from({ length: n }, (_, i) => {
    if (special && i % 7 === 3) return SPECIAL[(i * 5 + seed) % SPECIAL.length];
    const v = r.normal() * scale;
    return positive ? Math.abs(v) + 0.1 : v;
  });
}

// Per element references; `s` is the float32 scalar (or the weight array's element).
const small = (w) => Math.abs(w) < 0.5;
const lerpRef = (x, e, w) => (small(w) ? fr(x + fr(fr(e - x) * w)) : fr(e - fr(fr(e - x) * fr(1 - w))));
const CASES = {
  'mul (array)': { arrays: 2, run: (x, [y]) => kernels.mul(x, y), ref: (x, y) => fr(x * y) },
  'mul (number)': { arrays: 1, scalar: 0.7, run: (x, [], s) => kernels.mul(x, s), ref: (x, s) => fr(x * s) },
  'div (array)': { arrays: 2, run: (x, [y]) => kernels.div(x, y), ref: (x, y) => fr(x / y) },
  'div (number)': { arrays: 1, scalar: 0.3, run: (x, [], s) => kernels.div(x, s), ref: (x, s) => fr(x / s) },
  sqrt: { arrays: 1, run: (x) => kernels.sqrt(x), ref: (x) => fr(Math.sqrt(x)) },
  addcmul: { arrays: 3, scalar: -0.01, run: (x, [t1, t2], s) => kernels.addcmul(x, t1, t2, s), ref: (x, t1, t2, s) => fr(x + fr(fr(s * t1) * t2)) },
  'addcmul (value 1)': { arrays: 3, run: (x, [t1, t2]) => kernels.addcmul(x, t1, t2), ref: (x, t1, t2) => fr(x + fr(t1 * t2)) },
  addcdiv: { arrays: 3, scalar: -0.001, run: (x, [t1, t2], s) => kernels.addcdiv(x, t1, t2, s), ref: (x, t1, t2, s) => fr(x + fr(fr(s * t1) / t2)) },
  'addcdiv (value 1)': { arrays: 3, run: (x, [t1, t2]) => kernels.addcdiv(x, t1, t2), ref: (x, t1, t2) => fr(x + fr(t1 / t2)) },
  'lerp (weight 0.1)': { arrays: 2, scalar: 0.1, run: (x, [e], s) => kernels.lerp(x, e, s), ref: lerpRef },
  'lerp (weight 0.9)': { arrays: 2, scalar: 0.9, run: (x, [e], s) => kernels.lerp(x, e, s), ref: lerpRef },
  'lerp (weight 0.5)': { arrays: 2, scalar: 0.5, run: (x, [e], s) => kernels.lerp(x, e, s), ref: lerpRef },
  'lerp (weight -0.7)': { arrays: 2, scalar: -0.7, run: (x, [e], s) => kernels.lerp(x, e, s), ref: lerpRef },
  'lerp (weight array)': { arrays: 3, run: (x, [e, w]) => kernels.lerp(x, e, w), ref: (x, e, w) => lerpRef(x, e, w), weights: true },
  maximum: { arrays: 2, run: (x, [y]) => kernels.maximum(x, y), ref: (x, y) => Math.max(x, y) },
  sign: { arrays: 1, run: (x) => kernels.sign(x), ref: (x) => (Number.isNaN(x) ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0) },
};

/** Inputs for a case: x, then the other arrays; a weights array mixes both lerp sides and the edges. */
function inputsFor(c, n, seed) {
  const list = [values(n, seed)];
  for (let k = 1; k < c.arrays; k++) {
    if (c.weights && k === 2) list.push(Float32Array.from({ length: n }, (_, i) => [0.1, 0.9, 0.5, -0.5, 0.49999997, 1, 0, -2, NaN, 0.25][i % 10]));
    else list.push(values(n, seed * 31 + k, { special: (n + k) % 2 === 0 }));
  }
  return list;
}

/** Runs the case on fresh variables holding `inputs`; returns x's bits afterwards. */
function runOn(c, inputs, simd) {
  const vars = inputs.map((v, k) => new Variable(v.length ? v : new Float32Array(0), { name: `a${k}` }));
  setSimdEnabled(simd);
  try {
    const [x, ...rest] = vars.map((v) => v.value);
    c.run(x, rest, c.scalar);
    const bitsOf = (a) => Array.from(new Uint32Array(a.slice().buffer));
    for (let k = 1; k < vars.length; k++) assert.equal(bitsOf(vars[k].value), bitsOf(inputs[k]), 'inputs are not written');
    return new Uint32Array(x.slice().buffer);
  } finally {
    setSimdEnabled(true);
    for (const v of vars) v.dispose();
  }
}

function compare(label, got, want) {
  for (let i = 0; i < want.length; i++) {
    const g = fromBits(got[i]);
    const ok = Number.isNaN(want[i]) ? Number.isNaN(g) : got[i] === f32bits(want[i]);
    if (!ok) assert.unreachable(`${label} [${i}]: got ${g} (0x${got[i].toString(16)}), expected ${want[i]}`);
  }
}

for (const [name, c] of Object.entries(CASES)) {
  test(`kernels.${name}: float64 reference with float32 steps, SIMD = scalar bit for bit`, () => {
    for (const n of SIZES) {
      if (n === 0) continue; // a Variable holds at least one element: size 0 is the empty-view test below
      const inputs = inputsFor(c, n, n + 3);
      const s = c.scalar === undefined ? undefined : fr(c.scalar);
      const want = Array.from(inputs[0], (x, i) => c.ref(x, ...inputs.slice(1).map((a) => a[i]), ...(s === undefined ? [] : [s])));
      const simd = runOn(c, inputs, true);
      const scalar = runOn(c, inputs, false);
      compare(`${name} n=${n}`, simd, want);
      assert.equal(Array.from(scalar), Array.from(simd), `${name} n=${n}: scalar and SIMD bits`);
    }
  });
}

test('size 0: every function accepts empty views and writes nothing', () => {
  const v = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'v' });
  const e = v.value.subarray(2, 2);
  kernels.mul(e, e);
  kernels.mul(e, 2);
  kernels.div(e, e);
  kernels.div(e, 2);
  kernels.sqrt(e);
  kernels.addcmul(e, e, e, 2);
  kernels.addcdiv(e, e, e, 2);
  kernels.lerp(e, e, 0.3);
  kernels.lerp(e, e, e);
  kernels.maximum(e, e);
  kernels.sign(e);
  assert.equal(Array.from(v.value), [1, 2, 3, 4]);
  v.dispose();
});

test('maximum gives the canonical NaN 0x7fc00000 for any NaN and +0 for max(-0, +0), on both paths', () => {
  const xs = [NaN, 1, fromBits(0xffc00000), fromBits(0x7fc00123), -0, 0, -0, 5];
  const ys = [1, NaN, 2, -3, 0, -0, -0, fromBits(0x7f800001)];
  const want = [0x7fc00000, 0x7fc00000, 0x7fc00000, 0x7fc00000, 0, 0, 0x80000000, 0x7fc00000];
  for (const simd of [true, false]) {
    const got = runOn(CASES.maximum, [Float32Array.from(xs), Float32Array.from(ys)], simd);
    assert.equal(Array.from(got), want, `simd=${simd}`);
  }
});

test('sign: NaN stays NaN (all bits set), both zeros give +0', () => {
  for (const simd of [true, false]) {
    const got = runOn(CASES.sign, [Float32Array.from([NaN, -0, 0, -Infinity, 3, -fromBits(1), fromBits(0xffc00000)])], simd);
    assert.equal(Array.from(got), [0xffffffff, 0, 0, f32bits(-1), f32bits(1), f32bits(-1), 0xffffffff], `simd=${simd}`);
  }
});

test('lerp: weight 1 gives end exactly and weight 0 keeps x (PyTorch two-sided formula)', () => {
  const x = new Variable(values(17, 5, { special: false }), { name: 'x' });
  const e = new Variable(values(17, 6, { special: false }), { name: 'e' });
  const x0 = x.value.slice();
  kernels.lerp(x.value, e.value, 0);
  assert.equal(x.value, x0);
  kernels.lerp(x.value, e.value, 1);
  assert.equal(x.value, e.value);
  x.dispose();
  e.dispose();
});

test('the same view as input and output: mul(x, x) squares, addcmul(x, x, x), lerp(x, x, w) keeps x, maximum(x, x)', () => {
  const n = 23;
  const base = values(n, 9);
  const cases = [
    ['mul', (x) => kernels.mul(x, x), (x) => fr(x * x)],
    ['div', (x) => kernels.div(x, x), (x) => fr(x / x)],
    ['addcmul', (x) => kernels.addcmul(x, x, x, 0.5), (x) => fr(x + fr(fr(fr(0.5) * x) * x))],
    ['addcdiv', (x) => kernels.addcdiv(x, x, x, 0.5), (x) => fr(x + fr(fr(fr(0.5) * x) / x))],
    ['lerp', (x) => kernels.lerp(x, x, 0.75), (x) => lerpRef(x, x, fr(0.75))],
    ['lerp (array weight = x)', (x) => kernels.lerp(x, x, x), (x) => lerpRef(x, x, x)],
    ['maximum', (x) => kernels.maximum(x, x), (x) => x],
  ];
  for (const [label, run, ref] of cases) {
    for (const simd of [true, false]) {
      const v = new Variable(base, { name: 'x' });
      setSimdEnabled(simd);
      try {
        run(v.value);
      } finally {
        setSimdEnabled(true);
      }
      compare(`${label} simd=${simd}`, new Uint32Array(v.value.slice().buffer), Array.from(base, ref));
      v.dispose();
    }
  }
});

test('inputs disjoint from x inside one variable (views at other offsets) are fine', () => {
  const v = new Variable(values(12, 4, { special: false }), { name: 'v' });
  const before = v.value.slice();
  kernels.addcmul(v.value.subarray(0, 4), v.value.subarray(4, 8), v.value.subarray(8, 12), 2);
  for (let i = 0; i < 4; i++) assert.is(v.value[i], fr(before[i] + fr(fr(2 * before[4 + i]) * before[8 + i])));
  v.dispose();
});

// ---------------------------------------------------------------- argument checks

/** Each call with one bad argument; every one must throw `type` matching `message` and change nothing. */
const SIGS = {
  mul: { arrays: ['x', 'y'], scalars: [] },
  'mul number': { fn: 'mul', arrays: ['x'], scalars: ['y'] },
  div: { arrays: ['x', 'y'], scalars: [] },
  'div number': { fn: 'div', arrays: ['x'], scalars: ['y'] },
  sqrt: { arrays: ['x'], scalars: [] },
  addcmul: { arrays: ['x', 't1', 't2'], scalars: ['value'] },
  addcdiv: { arrays: ['x', 't1', 't2'], scalars: ['value'] },
  lerp: { arrays: ['x', 'end'], scalars: ['weight'] },
  'lerp array': { fn: 'lerp', arrays: ['x', 'end', 'weight'], scalars: [] },
  maximum: { arrays: ['x', 'y'], scalars: [] },
  sign: { arrays: ['x'], scalars: [] },
};

function otherHeap() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 100 });
  return new Arena(memory, instantiateKernels(kernelModule(), memory));
}

test('argument checks: wrong type, JS heap, other heap, wrong length, NaN and float32 overflow, partial overlap; nothing changes', () => {
  const other = otherHeap();
  const foreign = new Variable(new Float32Array(5), { name: 'f' }, other);
  const made = [];
  const heapState = () => JSON.stringify([defaultHeap().liveBytes, defaultHeap().memory.buffer.byteLength]);
  let checks = 0;
  for (const [label, { fn = label, arrays, scalars }] of Object.entries(SIGS)) {
    // A variable of 6 floats: views [0, 5) and [1, 6) overlap partially.
    const big = new Variable(Float32Array.from({ length: 6 }, (_, i) => i + 1), { name: 'big' });
    const vars = arrays.map((a, i) => new Variable(Float32Array.from({ length: 5 }, (_, j) => j + i + 2), { name: a }));
    made.push(big, ...vars);
    const args = (i, bad) => {
      const list = [...vars.map((v) => v.value), ...scalars.map(() => 0.5)];
      if (i !== undefined) list[i] = bad;
      return list;
    };
    const bad = [];
    arrays.forEach((a, i) => {
      const orNumber = arrays.length === 2 && i === 1 && (fn === 'mul' || fn === 'div') ? ', or a number' : '';
      const orNumberLerp = fn === 'lerp' && a === 'weight' ? ', or a number' : '';
      bad.push([TypeError, `kernels: ${a} must be a Float32Array view of wasm memory${orNumber}${orNumberLerp}`, args(i, [1, 2, 3, 4, 5])]);
      bad.push([TypeError, `kernels: ${a} must be a view of wasm memory`, args(i, new Float32Array(5))]);
      bad.push([TypeError, `kernels: ${a} must be a view of wasm memory`, args(i, foreign.value)]);
      if (i > 0) {
        bad.push([RangeError, `kernels: ${a} has 4 elements, expected 5`, args(i, vars[i].value.subarray(1))]);
        const partial = args(i, big.value.subarray(1, 6));
        partial[0] = big.value.subarray(0, 5);
        bad.push([RangeError, `kernels: ${a} partially overlaps x (pass the same view, or arrays that do not overlap)`, partial]);
      }
    });
    scalars.forEach((s, k) => {
      bad.push([TypeError, `kernels: ${s} must be a number, got NaN`, args(arrays.length + k, NaN)]);
      bad.push([RangeError, `kernels: ${s} must be representable in float32, got 1e+39 (Infinity in float32)`, args(arrays.length + k, 1e39)]);
      // mul, div and lerp take an array or a number there, and say so.
      const either = label.endsWith(' number') || fn === 'lerp';
      bad.push([TypeError, either ? `kernels: ${s} must be a Float32Array view of wasm memory, or a number` : `kernels: ${s} must be a number, got the string '0.5'`, args(arrays.length + k, '0.5')]);
    });
    for (const [type, message, list] of bad) {
      const before = JSON.stringify([heapState(), Array.from(big.value), ...vars.map((v) => Array.from(v.value))]);
      let error = null;
      try {
        kernels[fn](...list);
      } catch (e) {
        error = e;
      }
      const where = `${label}(${message})`;
      assert.ok(error, `${where}: no error`);
      assert.ok(error instanceof type, `${where}: ${error.name} ${error.message}`);
      assert.ok(error.message.includes(message), `${where}: the message is ${error.message}`);
      assert.is(JSON.stringify([heapState(), Array.from(big.value), ...vars.map((v) => Array.from(v.value))]), before, `${where}: something changed`);
      checks++;
    }
  }
  assert.ok(checks > 80, `${checks} checks`);
  for (const v of made) v.dispose();
  foreign.dispose();
});

test('partial overlap is refused for every input of every two-array function (axpy, scaleCopy, ema too); copy keeps memmove semantics', () => {
  const v = new Variable(Float32Array.from({ length: 9 }, (_, i) => i + 1), { name: 'v' });
  const a = v.value.subarray(0, 8);
  const b = v.value.subarray(1, 9);
  assert.throws(() => kernels.axpy(a, b, 1), /kernels: x partially overlaps y/);
  assert.throws(() => kernels.scaleCopy(b, a, 1), /kernels: src partially overlaps dst/);
  assert.throws(() => kernels.ema(a, b, 0.5), /kernels: x partially overlaps avg/);
  assert.throws(() => kernels.addcdiv(a, a, b), /kernels: t2 partially overlaps x/);
  assert.throws(() => kernels.lerp(b, b, a), /kernels: weight partially overlaps x/);
  assert.equal(Array.from(v.value), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  kernels.copy(a, b);
  assert.equal(Array.from(v.value), [2, 3, 4, 5, 6, 7, 8, 9, 9]);
  kernels.axpy(a, a, 1); // the same view: y += y
  assert.equal(Array.from(v.value), [4, 6, 8, 10, 12, 14, 16, 18, 9]);
  v.dispose();
});

test('no allocation per call: 100,000 rounds of every foreach call in a fresh process with a 1 MiB young generation', () => {
  const out = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', repoFile('test', 'helpers', 'foreach-alloc-probe.mjs')], { encoding: 'utf8' });
  assert.is(out.status, 0, out.stderr);
  const r = JSON.parse(out.stdout);
  console.log(`  ${r.collections} collections in ${r.rounds} rounds of 13 calls (heapUsed ${r.heapPerRound.toFixed(2)} B/round), wasm growth ${r.wasmGrowth}`);
  assert.is(r.collections, 0, 'a 1 MiB young generation filled up, so calls allocate');
  assert.is(r.wasmGrowth, 0);
});

test.run();
