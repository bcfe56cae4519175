// The elementwise primitives of optim.wasm (ewAdd ... ewSelect, the contract in kernel-abi.md):
// each against a per-element float64 reference rounded with Math.fround (exact for + - * / sqrt,
// min, max on float32 inputs), SIMD and scalar loops bit-identical (Uint32 bits, NaNs included),
// in place (out = an input), and nothing written past n.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, defaultHeap, setSimdEnabled } from '../build/index.js';
import { rng } from './helpers/random.mjs';

await ready();
const heap = defaultHeap();
const K = heap.kernels;

const SIZES = [0, 1, 3, 4, 5, 17, 1023];
const bits = (x) => new Uint32Array(new Float32Array([x]).buffer)[0];
const fromBits = (u) => new Float32Array(new Uint32Array([u]).buffer)[0];
// Special values: signed zeros, infinities, NaNs (quiet, negative, with a payload, signalling),
// the smallest and largest subnormals, the smallest normal, the largest finite, and ordinary ones.
const SPECIAL = [
  0, -0, Infinity, -Infinity, NaN, fromBits(0xffc00000), fromBits(0x7fc00123), fromBits(0x7f800001),
  fromBits(1), -fromBits(1), fromBits(0x007fffff), -fromBits(0x007fffff), 1e-40, fromBits(0x00800000),
  3.4028234663852886e38, -3.4028234663852886e38, 1, -1, 0.5, 2, -3, 1e30, -1e-30, 7,
].map(Math.fround);

/** Inputs of n elements: every pair of special values appears (a cycles fast, b slowly), then random values. */
function inputs(n, seed) {
  const r = rng(seed);
  const k = SPECIAL.length;
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  const c = new Int32Array(n); // a mask for ewSelect: all ones, zero, or arbitrary bits
  for (let i = 0; i < n; i++) {
    const pair = (i + seed) % (k * k + 40);
    a[i] = pair < k * k ? SPECIAL[pair % k] : r.normal() * 10;
    b[i] = pair < k * k ? SPECIAL[Math.floor(pair / k)] : r.normal() * 10;
    c[i] = i % 3 === 0 ? -1 : i % 3 === 1 ? 0 : (r.uniform() * 2 ** 32) | 0;
  }
  return { a, b, c };
}

// Per element, from the float32 inputs (NaN results are checked as "a NaN"; exact bits where the
// operation defines them: neg, abs, sign, the masks and select).
const mask = (t) => (t ? 0xffffffff : 0);
const BINARY = {
  ewAdd: (a, b) => Math.fround(a + b),
  ewSub: (a, b) => Math.fround(a - b),
  ewMul: (a, b) => Math.fround(a * b),
  ewDiv: (a, b) => Math.fround(a / b),
  ewMin: (a, b) => Math.min(a, b), // NaN propagates and min(-0, +0) = -0, as f32.min
  ewMax: (a, b) => Math.max(a, b),
};
const COMPARE = {
  ewLt: (a, b) => mask(a < b),
  ewLe: (a, b) => mask(a <= b),
  ewGt: (a, b) => mask(a > b),
  ewGe: (a, b) => mask(a >= b),
  ewEq: (a, b) => mask(a === b),
  ewNe: (a, b) => mask(a !== b),
};
const UNARY = {
  ewSqrt: { ref: (a) => Math.fround(Math.sqrt(a)) },
  ewNeg: { refBits: (u) => (u ^ 0x80000000) >>> 0 },
  ewAbs: { refBits: (u) => (u & 0x7fffffff) >>> 0 },
  ewSign: { refBits: (u, a) => (Number.isNaN(a) ? 0xffffffff : a > 0 ? bits(1) : a < 0 ? bits(-1) : 0) },
};

const SLACK = 8; // floats after each buffer that must stay untouched
const SENTINEL = 0x5a5a5a5a;

/** Allocates buffers (misaligned by `shift` floats, to prove unaligned v128 loads), runs fn, frees. */
function withBuffers(count, n, shift, fn) {
  const blocks = [];
  const ptrs = [];
  for (let k = 0; k < count; k++) {
    const p = heap.alloc((n + SLACK + shift) * 4);
    blocks.push(p);
    ptrs.push(p + shift * 4);
  }
  try {
    return fn(ptrs);
  } finally {
    for (const p of blocks) heap.free(p);
  }
}
const f32 = (p, n) => new Float32Array(heap.memory.buffer, p, n);
const u32 = (p, n) => new Uint32Array(heap.memory.buffer, p, n);
const i32 = (p, n) => new Int32Array(heap.memory.buffer, p, n);

/**
 * Runs `call(outPtr, inPtrs)` with SIMD on and off, out of place and with out = each input;
 * returns the out-of-place SIMD result's bits after checking all agree bit for bit.
 */
function runAllWays(name, n, shift, inputsBits, call) {
  return withBuffers(inputsBits.length + 1, n, shift, ([out, ...ins]) => {
    const load = () => {
      inputsBits.forEach((src, k) => u32(ins[k], n).set(src));
      u32(out, n + SLACK).fill(SENTINEL);
    };
    const results = [];
    for (const simd of [true, false]) {
      setSimdEnabled(simd);
      try {
        load();
        call(out, ins);
        assert.ok(u32(out + n * 4, SLACK).every((x) => x === SENTINEL), `${name} n=${n}: wrote past n`);
        results.push({ label: `simd=${simd}`, got: u32(out, n).slice() });
        for (let k = 0; k < ins.length; k++) {
          load();
          const alias = ins.slice();
          call(ins[k], alias);
          results.push({ label: `simd=${simd} in place on input ${k}`, got: u32(ins[k], n).slice() });
        }
      } finally {
        setSimdEnabled(true);
      }
    }
    const ref = results[0].got;
    for (const { label, got } of results.slice(1)) {
      for (let i = 0; i < n; i++) {
        if (got[i] !== ref[i]) assert.unreachable(`${name} n=${n} shift=${shift} [${i}]: ${label} gives 0x${got[i].toString(16)}, SIMD out of place 0x${ref[i].toString(16)}`);
      }
    }
    return ref;
  });
}

const hex = (u) => `0x${(u >>> 0).toString(16).padStart(8, '0')}`;
const toBitsArray = (f) => new Uint32Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength));

function checkValue(name, i, args, gotBits, want) {
  const got = fromBits(gotBits);
  if (Number.isNaN(want)) {
    if (!Number.isNaN(got)) assert.unreachable(`${name}(${args.join(', ')}) [${i}] = ${got}, expected NaN`);
  } else if (bits(want) !== gotBits) {
    assert.unreachable(`${name}(${args.join(', ')}) [${i}] = ${got} (${hex(gotBits)}), expected ${want} (${hex(bits(want))})`);
  }
}

for (const shift of [0, 1]) {
  test(`binary arithmetic, min, max: float64 reference, SIMD = scalar, in place (shift ${shift})`, () => {
    for (const [name, ref] of Object.entries(BINARY)) {
      for (const n of SIZES) {
        const { a, b } = inputs(n, n + 1);
        const got = runAllWays(name, n, shift, [toBitsArray(a), toBitsArray(b)], (out, [pa, pb]) => K[name](out, pa, pb, n));
        for (let i = 0; i < n; i++) {
          checkValue(name, i, [a[i], b[i]], got[i], ref(a[i], b[i]));
          // min and max give one fixed NaN (engines disagree on f32.max's NaN otherwise).
          if ((name === 'ewMin' || name === 'ewMax') && Number.isNaN(ref(a[i], b[i])) && got[i] !== 0x7fc00000) {
            assert.unreachable(`${name}(${a[i]}, ${b[i]}) [${i}] = ${hex(got[i])}, expected the canonical NaN 0x7fc00000`);
          }
        }
      }
    }
  });

  test(`comparisons: all-ones / zero masks, SIMD = scalar, in place (shift ${shift})`, () => {
    for (const [name, ref] of Object.entries(COMPARE)) {
      for (const n of SIZES) {
        const { a, b } = inputs(n, n + 2);
        const got = runAllWays(name, n, shift, [toBitsArray(a), toBitsArray(b)], (out, [pa, pb]) => K[name](out, pa, pb, n));
        for (let i = 0; i < n; i++) {
          if (got[i] !== ref(a[i], b[i])) assert.unreachable(`${name}(${a[i]}, ${b[i]}) [${i}] = ${hex(got[i])}, expected ${hex(ref(a[i], b[i]))}`);
        }
      }
    }
  });

  test(`unary sqrt, neg, abs, sign: reference bits, SIMD = scalar, in place (shift ${shift})`, () => {
    for (const [name, { ref, refBits }] of Object.entries(UNARY)) {
      for (const n of SIZES) {
        const { a } = inputs(n, n + 3);
        const ab = toBitsArray(a);
        const got = runAllWays(name, n, shift, [ab], (out, [pa]) => K[name](out, pa, n));
        for (let i = 0; i < n; i++) {
          if (ref) checkValue(name, i, [a[i]], got[i], ref(a[i]));
          else if (got[i] !== refBits(ab[i], a[i])) assert.unreachable(`${name}(${a[i]} ${hex(ab[i])}) [${i}] = ${hex(got[i])}, expected ${hex(refBits(ab[i], a[i]))}`);
        }
      }
    }
  });

  test(`ewSelect: bitwise select on the mask's bits, SIMD = scalar, in place (shift ${shift})`, () => {
    for (const n of SIZES) {
      const { a, b, c } = inputs(n, n + 4);
      const ab = toBitsArray(a);
      const bb = toBitsArray(b);
      const cb = new Uint32Array(c.buffer);
      const got = runAllWays('ewSelect', n, shift, [cb, ab, bb], (out, [pc, pa, pb]) => K.ewSelect(out, pc, pa, pb, n));
      for (let i = 0; i < n; i++) {
        const want = ((cb[i] & ab[i]) | (~cb[i] & bb[i])) >>> 0;
        if (got[i] !== want) assert.unreachable(`ewSelect [${i}] = ${hex(got[i])}, expected ${hex(want)}`);
      }
    }
  });
}

test('ewSign: the exact bits of +1, -1, +0 (for both zeros) and all-ones for every NaN', () => {
  const vals = [5, -5, 0, -0, Infinity, -Infinity, NaN, fromBits(0xffc00000), fromBits(0x7f800001), fromBits(1), -fromBits(1)];
  const want = [bits(1), bits(-1), 0, 0, bits(1), bits(-1), 0xffffffff, 0xffffffff, 0xffffffff, bits(1), bits(-1)];
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      withBuffers(1, vals.length, 0, ([p]) => {
        f32(p, vals.length).set(vals);
        K.ewSign(p, p, vals.length);
        assert.equal(Array.from(u32(p, vals.length)), want, `simd=${simd}`);
      });
    } finally {
      setSimdEnabled(true);
    }
  }
});

test('masks from a comparison drive ewSelect (where(a < b, a, b) is min without NaN propagation)', () => {
  const n = 9;
  withBuffers(4, n, 0, ([pa, pb, pm, po]) => {
    f32(pa, n).set([1, 5, -2, NaN, 0, -0, 3, 3, Infinity]);
    f32(pb, n).set([2, 4, -3, 1, -0, 0, NaN, 3, 1]);
    K.ewLt(pm, pa, pb, n);
    assert.equal(Array.from(i32(pm, n)), [-1, 0, 0, 0, 0, 0, 0, 0, 0]);
    K.ewSelect(po, pm, pa, pb, n);
    assert.equal(Array.from(f32(po, n)), [1, 4, -3, 1, -0, 0, NaN, 3, 1]);
  });
});

test.run();
