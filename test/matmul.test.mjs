// assembly/matmul.ts against test/reference/matmul.mjs: every product is the float32-emulated
// reference bit for bit (each element summed over k in order), SIMD and scalar alike, and within
// the standard float32 error bound of the float64 product. The kernels write only their output
// and pack buffer (arena guard bytes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Arena, instantiateKernels, kernelModule, ready, setSimdEnabled } from '../build/index.js';
import { matmulRef, transposeRef } from './reference/matmul.mjs';
import { rng } from './helpers/random.mjs';

await ready();
const memory = new WebAssembly.Memory({ initial: 64 });
const K = instantiateKernels(kernelModule(), memory);
const heap = new Arena(memory, K);
heap.setGuards(64);

/** Copies `values` into a fresh block; returns its pointer. */
function put(values) {
  const p = heap.alloc(Math.max(1, values.length) * 4);
  new Float32Array(memory.buffer, p, values.length).set(values);
  return p;
}
const get = (p, n) => new Float32Array(memory.buffer, p, n).slice();

function sameBits(label, got, want) {
  assert.is(got.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) assert.unreachable(`${label}[${i}]: ${got[i]} != ${want[i]}`);
}

/**
 * Float32 summation error bound (Higham, gamma_k): |fl(A·B) - A·B| <= k*u/(1-k*u) * (|A|·|B|) per
 * element, u = 2^-24, plus the epilogue's two roundings relative to its own terms.
 */
function withinBound(label, got, exact, A, B, m, k, n, transB) {
  const u = 2 ** -24;
  const gamma = (k * u) / (1 - k * u);
  const absA = A.map(Math.abs);
  const absB = B.map(Math.abs);
  const mag = matmulRef(absA, absB, m, k, n, { transB });
  for (let i = 0; i < got.length; i++) {
    const tol = gamma * mag[i] + 2 * u * Math.abs(exact[i]) + 1e-38;
    if (!(Math.abs(got[i] - exact[i]) <= tol)) assert.unreachable(`${label}[${i}]: ${got[i]} vs float64 ${exact[i]} (bound ${tol})`);
  }
}

/** Runs kernel `run(c, pack)` with SIMD and scalar; both must equal `want` bit for bit. */
function bothPaths(label, m, n, packFloats, run, want) {
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      const c = heap.alloc(m * n * 4);
      const pack = heap.alloc(packFloats * 4);
      new Float32Array(memory.buffer, c, m * n).fill(NaN); // the kernel must overwrite every element
      run(c, pack);
      sameBits(`${label} ${simd ? 'SIMD' : 'scalar'}`, get(c, m * n), want);
      heap.checkGuards();
      heap.free(c);
      heap.free(pack);
    } finally {
      setSimdEnabled(true);
    }
  }
}

const SHAPES = [[1, 1, 1], [3, 5, 7], [17, 33, 17], [64, 64, 64], [255, 257, 129], [5, 300, 600], [512, 512, 512]];

test('matmul: C = A·B equals the float32-emulated reference bit for bit (SIMD and scalar), within the float32 bound of float64', () => {
  const r = rng(1);
  for (const [m, k, n] of SHAPES) {
    const A = r.f32(m * k);
    const B = r.f32(k * n);
    const [a, b] = [put(A), put(B)];
    const want = matmulRef(A, B, m, k, n, { round: Math.fround, out: Float32Array });
    bothPaths(`matmul ${m}x${k}·${k}x${n}`, m, n, K.matmulPackFloats(k, n), (c, pack) => K.matmul(c, a, b, m, k, n, pack), want);
    withinBound(`matmul ${m}x${k}·${k}x${n}`, want, matmulRef(A, B, m, k, n), A, B, m, k, n, false);
    heap.free(a);
    heap.free(b);
  }
});

test('matmulNT: C = A·Bᵀ (B stored n x k), bit for bit', () => {
  const r = rng(2);
  for (const [m, k, n] of [[1, 1, 1], [3, 5, 7], [17, 33, 17], [64, 64, 64], [255, 257, 129]]) {
    const A = r.f32(m * k);
    const B = r.f32(n * k);
    const [a, b] = [put(A), put(B)];
    const want = matmulRef(A, B, m, k, n, { transB: true, round: Math.fround, out: Float32Array });
    bothPaths(`matmulNT ${m}x${k}·(${n}x${k})ᵀ`, m, n, K.matmulPackFloats(k, n), (c, pack) => K.matmulNT(c, a, b, m, k, n, pack), want);
    withinBound(`matmulNT ${m}x${k}`, want, matmulRef(A, B, m, k, n, { transB: true }), A, B, m, k, n, true);
    heap.free(a);
    heap.free(b);
  }
});

test('matmulAdd: C = s*D + A·B (the epilogue rounds s*D, then adds the sum)', () => {
  const r = rng(3);
  for (const [m, k, n] of [[1, 1, 1], [3, 5, 7], [17, 33, 17], [255, 257, 129]]) {
    const A = r.f32(m * k);
    const B = r.f32(k * n);
    const D = r.f32(m * n);
    const [a, b, d] = [put(A), put(B), put(D)];
    const want = matmulRef(A, B, m, k, n, { d: D, s: Math.fround(3.4445), round: Math.fround, out: Float32Array });
    bothPaths(`matmulAdd ${m}x${k}·${k}x${n}`, m, n, K.matmulPackFloats(k, n), (c, pack) => K.matmulAdd(c, a, b, m, k, n, d, 3.4445, pack), want);
    for (const p of [a, b, d]) heap.free(p);
  }
});

test('matmulSym: X·Xᵀ and S·S (S symmetric) computed from the upper triangle equal the full product bit for bit', () => {
  const r = rng(4);
  for (const [m, k] of [[1, 1], [3, 5], [17, 33], [64, 64], [255, 257], [129, 40]]) {
    const X = r.f32(m * k);
    const x = put(X);
    const A = matmulRef(X, X, m, k, m, { transB: true, round: Math.fround, out: Float32Array });
    bothPaths(`matmulSym X·Xᵀ ${m}x${k}`, m, m, K.matmulPackFloats(k, m), (c, pack) => K.matmulSym(c, x, x, m, k, 1, pack), A);
    const s = put(A);
    const P = matmulRef(A, A, m, m, m, { round: Math.fround, out: Float32Array });
    bothPaths(`matmulSym S·S ${m}x${m}`, m, m, K.matmulPackFloats(m, m), (c, pack) => K.matmulSym(c, s, s, m, m, 0, pack), P);
    heap.free(x);
    heap.free(s);
  }
});

test('transpose', () => {
  const r = rng(5);
  for (const [rows, cols] of [[1, 1], [1, 9], [9, 7], [33, 17], [64, 65]]) {
    const X = r.f32(rows * cols);
    const [x, t] = [put(X), heap.alloc(rows * cols * 4)];
    K.transpose(t, x, rows, cols);
    sameBits(`transpose ${rows}x${cols}`, get(t, rows * cols), transposeRef(X, rows, cols));
    heap.checkGuards();
    heap.free(x);
    heap.free(t);
  }
});

test('matmul: k = 0 gives +0 (and the epilogue alone)', () => {
  const c = heap.alloc(6 * 4);
  const d = put([1, -2, 3, -4, 5, -6]);
  const pack = heap.alloc(64);
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      K.matmul(c, 0, 0, 2, 0, 3, pack);
      sameBits('k=0', get(c, 6), new Float32Array(6));
      K.matmulAdd(c, 0, 0, 2, 0, 3, d, 2, pack);
      sameBits('k=0 epilogue', get(c, 6), Float32Array.from([2, -4, 6, -8, 10, -12]));
    } finally {
      setSimdEnabled(true);
    }
  }
  for (const p of [c, d, pack]) heap.free(p);
});

test.run();
