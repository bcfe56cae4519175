// Adan with 8-bit state (docs/int8-state.md): may the previous gradient be quantized? It is state
// that feeds the next difference d = g - gPrev, and d is what v averages. This runs Adan in float64
// with each slot stored as the optimizers store it (the code of test/reference/quantize.mjs, through
// optim.wasm's qQuantBlock / qDequantBlock, which equal that model bit for bit: tested) or kept, on
//   noisy   sum_i c_i (w_i - w*_i)^2 / n, c_i log-normal (spread 1.5), 4,096 weights, gradient noise
//           0.5 sqrt(c_i) N(0, 1) (the training problem of bench/int8-codes.mjs);
//   smooth  the same without noise: consecutive gradients nearly equal, d much smaller than g, where
//           an error of a few percent of gPrev is largest relative to d;
// and prints the loss (noisy: the mean over the last 500 steps, the noise floor; smooth: at steps
// 300 and 1,000, the speed of convergence), and, at step 300, the errors of d and of the update
// against the same step taken from the same state with the exact previous gradient (medians over
// the elements whose exact d is not zero; the 99th percentile of the update's error relative to
// the RMS update, as a relative error is meaningless where the update crosses zero).
//   node bench/int8-adan.mjs [steps]
import { ready, defaultHeap } from '../build/index.js';
import { rng } from '../test/helpers/random.mjs';
import { roundingSeed } from '../test/reference/quantize.mjs';

await ready();
const H = defaultHeap();
const K = H.kernels;
const B = 256;
const buf = H.alloc(4 * B * 2 + B + 16);
const SRC = buf;
const DST = buf + 4 * B;
const CODES = buf + 8 * B;
const ABS = buf + 9 * B;

/** x := its 8-bit round trip (float32 first); `seed` null rounds to nearest. */
function store(x, kind, seed) {
  const signed = kind === 'signed' ? 1 : 0;
  for (let b = 0; b < x.length; b += B) {
    const len = Math.min(B, x.length - b);
    const mem = H.memory.buffer;
    new Float32Array(mem, SRC, len).set(x.subarray(b, b + len));
    K.qQuantBlock(SRC, CODES, ABS, len, signed, seed === null ? 0 : 1, seed ?? 0, b);
    K.qDequantBlock(CODES, new Float32Array(H.memory.buffer, ABS, 1)[0], DST, len, signed);
    x.set(new Float32Array(H.memory.buffer, DST, len), b);
  }
}

const O = { lr: 0.01, b1: 0.98, b2: 0.92, b3: 0.99, eps: 1e-8, epsRoot: 1e-8 };
/** One Adan update in float64 (optax's formulas), in place; returns nothing. */
function adanStep(w, g, s, t, out = null) {
  const { b1, b2, b3 } = O;
  const bc1 = 1 - b1 ** t;
  const bc2 = 1 - b2 ** t;
  const bc3 = 1 - b3 ** t;
  for (let i = 0; i < w.length; i++) {
    const d = t === 1 ? 0 : g[i] - s.gp[i];
    s.m[i] = (1 - b1) * g[i] + b1 * s.m[i];
    s.v[i] = (1 - b2) * d + b2 * s.v[i];
    const q = g[i] + (1 - b2) * d;
    s.n[i] = (1 - b3) * q * q + b3 * s.n[i];
    s.gp[i] = g[i];
    const u = (s.m[i] / bc1 + (1 - b2) * (s.v[i] / bc2)) / (Math.sqrt(s.n[i] / bc3 + O.epsRoot) + O.eps);
    if (out) {
      out.u[i] = u;
      out.d[i] = d;
    }
    w[i] -= O.lr * u;
  }
}

// How each slot is stored: null keeps float64; 'nearest' / 'stochastic' the 8-bit code.
const VARIANTS = [
  ['float64 (no quantization)', null],
  ['m, v, n 8-bit; previous gradient float32', { m: 'stochastic', v: 'stochastic', n: 'stochastic', gp: 'float32' }],
  ['all four 8-bit, previous gradient to nearest (what Adan does)', { m: 'stochastic', v: 'stochastic', n: 'stochastic', gp: 'nearest' }],
  ['all four 8-bit, previous gradient stochastic', { m: 'stochastic', v: 'stochastic', n: 'stochastic', gp: 'stochastic' }],
  ['all four 8-bit, all to nearest', { m: 'nearest', v: 'nearest', n: 'nearest', gp: 'nearest' }],
  ['all four 8-bit, v to nearest', { m: 'stochastic', v: 'nearest', n: 'stochastic', gp: 'nearest' }],
  ['all four 8-bit, m to nearest', { m: 'nearest', v: 'stochastic', n: 'stochastic', gp: 'nearest' }],
  ['all four 8-bit, n to nearest', { m: 'stochastic', v: 'stochastic', n: 'nearest', gp: 'nearest' }],
];
const KIND = { m: 'signed', v: 'signed', n: 'unsigned', gp: 'signed' };

const steps = Number(process.argv[2] ?? 3000);
const n = 4096;
const r = rng(2);
const c = Float64Array.from({ length: n }, () => Math.exp(1.5 * r.normal()));
const target = Float64Array.from({ length: n }, () => r.normal());
const noise = Float64Array.from({ length: 1 << 18 }, () => r.normal());

const pct = (a, p) => {
  const x = Float64Array.from(a.filter(Number.isFinite)).sort();
  return x[Math.floor(x.length * p)];
};
const PROBE = 300;
const loss = (w) => {
  let l = 0;
  for (let i = 0; i < n; i++) l += c[i] * (w[i] - target[i]) ** 2;
  return l / n;
};

for (const [problem, sigma] of [['noisy', 0.5], ['less noisy', 0.05], ['smooth', 0]]) {
  console.log(`\n${problem} (Adan lr ${O.lr}, defaults, ${steps} steps)\n`);
  const lossHead = sigma ? 'loss, mean of the last 500 steps' : 'loss at step 300 | loss at step 1,000';
  console.log(`| state | ${lossHead} | rel. error of d, median | update rel. error, median | update error / RMS update, 99th pct |`);
  console.log(`|---|---|${sigma ? '' : '---|'}---|---|---|`);
  for (const [label, how] of VARIANTS) {
    const w = new Float64Array(n);
    const s = { m: new Float64Array(n), v: new Float64Array(n), n: new Float64Array(n), gp: new Float64Array(n) };
    const g = new Float64Array(n);
    let off = 0;
    let errD = null;
    let errU = null;
    let errR = null;
    let tail = 0;
    let at300 = NaN;
    let at1000 = NaN;
    for (let t = 1; t <= steps; t++) {
      for (let i = 0; i < n; i++) g[i] = Math.fround(c[i] * (w[i] - target[i]) + sigma * Math.sqrt(c[i]) * noise[(off + i) & ((1 << 18) - 1)]);
      off += 7919;
      if (how && t === PROBE) {
        // The last step twice from the same state: with the stored previous gradient and with the
        // exact one (the gradient of step t - 1 is recomputed from the noise offset).
        const exact = { ...s, gp: Float64Array.from(s.gp) };
        const prevW = s.prevW;
        for (let i = 0; i < n; i++) exact.gp[i] = Math.fround(c[i] * (prevW[i] - target[i]) + sigma * Math.sqrt(c[i]) * noise[(off - 2 * 7919 + i) & ((1 << 18) - 1)]);
        const a = { u: new Float64Array(n), d: new Float64Array(n) };
        const b = { u: new Float64Array(n), d: new Float64Array(n) };
        const copy = (x) => ({ m: Float64Array.from(x.m), v: Float64Array.from(x.v), n: Float64Array.from(x.n), gp: Float64Array.from(x.gp) });
        adanStep(Float64Array.from(w), g, copy(s), t, a);
        adanStep(Float64Array.from(w), g, copy(exact), t, b);
        errD = Array.from(a.d, (x, i) => Math.abs(x - b.d[i]) / Math.abs(b.d[i]));
        errU = Array.from(a.u, (x, i) => Math.abs(x - b.u[i]) / Math.abs(b.u[i]));
        const rms = Math.sqrt(b.u.reduce((acc, x) => acc + x * x, 0) / n);
        errR = Array.from(a.u, (x, i) => Math.abs(x - b.u[i]) / rms);
      }
      if (how) s.prevW = Float64Array.from(w);
      adanStep(w, g, s, t);
      const l = loss(w);
      if (t > steps - 500) tail += l;
      if (t === 300) at300 = l;
      if (t === 1000) at1000 = l;
      if (how) {
        for (const k of ['m', 'v', 'n', 'gp']) {
          if (how[k] === 'float32') s[k] = Float64Array.from(Float32Array.from(s[k]));
          else store(s[k], KIND[k], how[k] === 'stochastic' ? roundingSeed(t) : null);
        }
      }
    }
    const e = errD ? `${pct(errD, 0.5).toExponential(2)} | ${pct(errU, 0.5).toExponential(2)} | ${pct(errR, 0.99).toExponential(2)}` : '- | - | -';
    const l = sigma ? (tail / 500).toExponential(3) : `${at300.toExponential(3)} | ${at1000.toExponential(3)}`;
    console.log(`| ${label} | ${l} | ${e} |`);
  }
}
