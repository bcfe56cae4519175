// Why the 8-bit code of docs/int8-state.md: quantization error of candidate codes on realistic
// Adam moments, and a training run with each. Float64, independent of the wasm build.
//   node bench/int8-codes.mjs [steps]
// Candidates (blocks of 256, one absmax each, first moment signed, second unsigned):
//   dynamic   bitsandbytes' create_dynamic_map (signed / unsigned), nearest entry
//   pow4      y = (k / K)^4, K = 127 / 255, nearest in k (SIMD-friendly: two square roots)
//   fp8       this library's code: 3 mantissa bits, binades 2^-15..1 (m) and 2^-31..1 (v), nearest
//   fp8 + sr  the same, the second moment rounded stochastically (what the optimizers do)
import * as R from '../test/reference/quantize.mjs';
import { rng } from '../test/helpers/random.mjs';

const B = 256;
function dynamicMap(signed) {
  const d = [0, 1];
  for (let i = 0; i < 7; i++) {
    const items = signed ? 2 ** i + 1 : 2 ** (i + 1) + 1;
    for (let k = 0; k < items - 1; k++) {
      const mean = ((0.1 + (0.9 * k) / (items - 1) + 0.1 + (0.9 * (k + 1)) / (items - 1)) / 2) * 10 ** (i - 6);
      d.push(mean);
      if (signed) d.push(-mean);
    }
  }
  return Float64Array.from(d.sort((a, b) => a - b));
}
const DS = dynamicMap(true);
const DU = dynamicMap(false);
function nearest(map, y) {
  let lo = 0;
  let hi = map.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (map[mid] <= y) lo = mid;
    else hi = mid;
  }
  return y - map[lo] <= map[hi] - y ? map[lo] : map[hi];
}
const fp8 = (y, kind, u = -1) => {
  let k = R.codeOf(Math.abs(y), kind, u);
  if (kind === 'unsigned' && y > 0 && k === 0) k = 1;
  return Math.sign(y) * R.valueOf(k, kind);
};
let t = 0;
let idx = 0;
const CODES = {
  dynamic: { m: (y) => nearest(DS, y), v: (y) => nearest(DU, y) },
  pow4: { m: (y) => Math.sign(y) * (Math.round(127 * Math.abs(y) ** 0.25) / 127) ** 4, v: (y) => (Math.round(255 * y ** 0.25) / 255) ** 4 },
  fp8: { m: (y) => fp8(y, 'signed'), v: (y) => fp8(y, 'unsigned') },
  'fp8 + sr': { m: (y) => fp8(y, 'signed'), v: (y) => fp8(y, 'unsigned', R.draw(idx++, R.roundingSeed(t))) },
};
function quantize(x, f) {
  for (let b = 0; b < x.length; b += B) {
    let a = 0;
    for (let i = b; i < b + B; i++) a = Math.max(a, Math.abs(x[i]));
    if (a > 0) for (let i = b; i < b + B; i++) x[i] = f(x[i] / a) * a;
  }
}
const rms = (a, b) => {
  let e = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(e / s);
};

// 1. Moments after 200 Adam steps on gradients 1e-3 * s_i * (mu_i + t-noise), s_i log-normal
// with the given spread within each block; error of m, v and of the update m / (sqrt(v) + eps).
console.log('| spread | code | m rel. RMS error | v rel. RMS error | update rel. RMS error | median update error | 99th pct |');
console.log('|---|---|---|---|---|---|---|');
for (const spread of [0.5, 1, 1.5, 2.5]) {
  const r = rng(1);
  const n = 65536;
  const s = Float64Array.from({ length: n }, () => Math.exp(spread * r.normal()));
  const mu = Float64Array.from({ length: n }, () => 0.3 * r.normal());
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  for (let step = 0; step < 200; step++) {
    for (let i = 0; i < n; i++) {
      let chi = 0;
      for (let k = 0; k < 4; k++) chi += r.normal() ** 2;
      const g = 1e-3 * s[i] * (mu[i] + r.normal() / Math.sqrt(chi / 4));
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
    }
  }
  const u = m.map((x, i) => x / (Math.sqrt(v[i]) + 1e-7));
  for (const [name, c] of Object.entries(CODES)) {
    if (name === 'fp8 + sr') continue;
    const mq = Float64Array.from(m);
    const vq = Float64Array.from(v);
    quantize(mq, c.m);
    quantize(vq, c.v);
    const uq = mq.map((x, i) => x / (Math.sqrt(vq[i]) + 1e-7));
    const rel = [...u].map((x, i) => Math.abs(uq[i] - x) / Math.abs(x)).sort((a, b) => a - b);
    console.log(`| ${spread} | ${name} | ${rms(mq, m).toExponential(2)} | ${rms(vq, v).toExponential(2)} | ${rms(uq, u).toExponential(2)} | ${rel[n >> 1].toExponential(2)} | ${rel[Math.floor(n * 0.99)].toExponential(2)} |`);
  }
}

// 2. Training: Adam (lr 0.01) on a noisy quadratic sum_i c_i (w_i - w*_i)^2, c_i log-normal
// (spread 1.5), 4,096 weights; the mean loss at the end (the noise floor) with each code.
const steps = Number(process.argv[2] ?? 3000);
const r = rng(2);
const n = 4096;
const c = Float64Array.from({ length: n }, () => Math.exp(1.5 * r.normal()));
const target = Float64Array.from({ length: n }, () => r.normal());
const noise = Float64Array.from({ length: 1 << 18 }, () => r.normal());
console.log(`\n| code | loss after ${steps} steps (float64 Adam: first row) |\n|---|---|`);
for (const name of ['none', ...Object.keys(CODES)]) {
  const w = new Float64Array(n);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  let off = 0;
  for (t = 1; t <= steps; t++) {
    idx = 0;
    const alpha = (0.01 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
    for (let i = 0; i < n; i++) {
      const g = c[i] * (w[i] - target[i]) + 0.5 * Math.sqrt(c[i]) * noise[(off + i) & ((1 << 18) - 1)];
      m[i] += (g - m[i]) * 0.1;
      v[i] += (g * g - v[i]) * 0.001;
      w[i] -= (m[i] * alpha) / (Math.sqrt(v[i]) + 1e-7);
    }
    off += 7919;
    if (name !== 'none') {
      quantize(m, CODES[name].m);
      quantize(v, CODES[name].v);
    }
  }
  let loss = 0;
  for (let i = 0; i < n; i++) loss += c[i] * (w[i] - target[i]) ** 2;
  console.log(`| ${name} | ${(loss / n).toExponential(3)} |`);
}
