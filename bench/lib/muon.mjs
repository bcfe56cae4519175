// The `muon` section: one Newton-Schulz orthogonalization (normalize, then 5 iterations of
// A = X·Xᵀ; B = b*A + c*A·A; X = a*X + B·X) on n x n, ours against tfjs doing the same iteration
// with tf.matMul on the wasm backend (XNNPACK) and, at 256 only, the cpu backend; our full Muon
// step (momentum, orthogonalization, update) against the same step in tf ops; and the GFLOP/s of
// our matmul kernel alone. Figures are medians of alternating samples (measure.mjs).
import * as wo from '../../build/index.js';
import { randomFloats } from './contenders.mjs';
import { race } from './measure.mjs';

export const MUON_SIZES = [256, 512, 1024];
const [A, B, C] = [3.4445, -4.775, 2.0315];
const STEPS = 5;

/** Floating-point operations of the iteration as tfjs does it (full products): 5 * (2n³ + 2n³ + 2n³). */
export const nsFlops = (n) => STEPS * 6 * n ** 3;

/** Our orthogonalization through the kernels, on scratch laid out as Muon lays it out. */
function ourNewtonSchulz(n) {
  const heap = wo.defaultHeap();
  const K = heap.kernels;
  const g = new wo.Variable(randomFloats(n * n, -1, 1, 7), { name: 'g', shape: [n, n] });
  const scratch = heap.alloc(K.muonScratchFloats(n, n) * 4);
  const x0 = scratch;
  const x1 = x0 + n * n * 4;
  const aa = x1 + n * n * 4;
  const pp = aa + n * n * 4;
  const pack = pp + n * n * 4;
  return {
    id: 'ours',
    run: (reps) => {
      for (let r = 0; r < reps; r++) {
        K.copy(x0, g.ptr, n * n);
        K.muonNormalize(x0, n * n);
        K.newtonSchulz(x0, x1, aa, pp, pack, n, n, STEPS, A, B, C);
      }
    },
    dispose() {
      heap.free(scratch);
      g.dispose();
    },
  };
}

/**
 * Keras' zeropower_via_newtonschulz5 expression in tf ops (call inside tidy). `nn`: X·Xᵀ as
 * matMul(X, transpose(X)) instead of matMul's transposeB flag, which is several times slower on
 * the wasm backend: tfjs at its fastest.
 */
function tfOrthogonalize(tf, x0, nn = false) {
  let x = tf.div(x0, tf.add(tf.norm(x0), 1e-7));
  for (let s = 0; s < STEPS; s++) {
    const a = nn ? tf.matMul(x, tf.transpose(x)) : tf.matMul(x, x, false, true);
    const b = tf.add(tf.mul(B, a), tf.matMul(tf.mul(C, a), a));
    x = tf.add(tf.mul(A, x), tf.matMul(b, x));
  }
  return x;
}

/** The same iteration in tf ops on `backend`. */
async function tfNewtonSchulz(tf, n, backend, id, nn = false) {
  await tf.setBackend(backend);
  const g = tf.tensor(randomFloats(n * n, -1, 1, 7), [n, n]);
  const ns = (x0) => tfOrthogonalize(tf, x0, nn);
  return {
    id,
    garbage: true,
    before: () => (tf.getBackend() === backend ? undefined : tf.setBackend(backend)),
    run: (reps) => {
      for (let r = 0; r < reps; r++) tf.tidy(() => ns(g)).dispose();
    },
    dispose() {
      g.dispose();
    },
  };
}

/** Our full Muon step on one n x n variable (defaults: Nesterov, rmsRate 0.2, weight decay 0.004). */
function ourStep(n) {
  const w = new wo.Variable(randomFloats(n * n, -1, 1, 1), { name: 'dense/kernel', shape: [n, n] });
  const g = new wo.Variable(randomFloats(n * n, -1, 1, 2), { name: 'g', shape: [n, n] });
  const opt = new wo.Muon();
  opt.prepare([w]);
  const pairs = [[g.value, w]];
  return {
    id: 'oursStep',
    before: () => {
      if (pairs[0][0].buffer !== wo.defaultHeap().memory.buffer) pairs[0][0] = g.value;
    },
    run: (reps) => {
      for (let r = 0; r < reps; r++) opt.applyGradients(pairs);
    },
    dispose() {
      opt.dispose();
      w.dispose();
      g.dispose();
    },
  };
}

/** The same step in tf ops on `backend` (decay, momentum, Nesterov, orthogonalization, scaled update). */
async function tfStep(tf, n, backend, id) {
  await tf.setBackend(backend);
  const w = tf.variable(tf.tensor(randomFloats(n * n, -1, 1, 1), [n, n]));
  const m = tf.variable(tf.zeros([n, n]));
  const g = tf.tensor(randomFloats(n * n, -1, 1, 2), [n, n]);
  const lr = 0.001;
  return {
    id,
    garbage: true,
    before: () => (tf.getBackend() === backend ? undefined : tf.setBackend(backend)),
    run: (reps) => {
      for (let r = 0; r < reps; r++) {
        tf.tidy(() => {
          w.assign(tf.sub(w, tf.mul(tf.mul(w, 0.004), lr)));
          m.assign(tf.add(m, tf.add(g, tf.mul(m, 0.95 - 1))));
          const x = tfOrthogonalize(tf, tf.add(g, tf.mul(0.95, m)), true);
          w.assign(tf.sub(w, tf.mul(tf.mul(tf.mul(lr, x), Math.sqrt(n)), 0.2)));
        });
      }
    },
    dispose() {
      w.dispose();
      m.dispose();
      g.dispose();
    },
  };
}

/** Our matmul alone (n x n · n x n). */
function ourMatmul(n) {
  const heap = wo.defaultHeap();
  const K = heap.kernels;
  const a = new wo.Variable(randomFloats(n * n, -1, 1, 3), { name: 'a', shape: [n, n] });
  const b = new wo.Variable(randomFloats(n * n, -1, 1, 4), { name: 'b', shape: [n, n] });
  const c = heap.alloc(n * n * 4);
  const pack = heap.alloc(K.matmulPackFloats(n, n) * 4);
  return {
    id: 'matmul',
    run: (reps) => {
      for (let r = 0; r < reps; r++) K.matmul(c, a.ptr, b.ptr, n, n, n, pack);
    },
    dispose() {
      heap.free(c);
      heap.free(pack);
      a.dispose();
      b.dispose();
    },
  };
}

/** tf.matMul alone on the wasm backend. */
async function tfMatmul(tf, n) {
  await tf.setBackend('wasm');
  const a = tf.tensor(randomFloats(n * n, -1, 1, 3), [n, n]);
  const b = tf.tensor(randomFloats(n * n, -1, 1, 4), [n, n]);
  return {
    id: 'tfMatmul',
    garbage: true,
    before: () => (tf.getBackend() === 'wasm' ? undefined : tf.setBackend('wasm')),
    run: (reps) => {
      for (let r = 0; r < reps; r++) tf.matMul(a, b).dispose();
    },
    dispose() {
      a.dispose();
      b.dispose();
    },
  };
}

const gflops = (flops, ms) => flops / ms / 1e6;
const fmt = (s) => (s ? `${s.ms.toFixed(1)} ms` : '-');
const ratio = (ours, theirs) => (ours && theirs ? `${(theirs.ms / ours.ms).toFixed(2)}x` : '-');
const rate = (flops, s) => (s ? ` (${gflops(flops, s.ms).toFixed(1)} GFLOP/s)` : '');

/** The table's header (two lines). */
export function muonHeader() {
  return [
    '| n | what | ours | tfjs wasm (XNNPACK) | ours vs it | tfjs wasm, X·transpose(X) | ours vs it | tfjs cpu | ours vs it |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
}

/** The three lines of one size (markdown rows; "ours vs it" is the other's time over ours). */
export function muonLines(n, row) {
  const f = nsFlops(n);
  const mf = 2 * n ** 3;
  const { ns, step, matmul } = row;
  return [
    `| ${n} | orthogonalization (5 steps) | ${fmt(ns.ours)}${rate(f, ns.ours)} | ${fmt(ns.tfWasm)}${rate(f, ns.tfWasm)} | ${ratio(ns.ours, ns.tfWasm)} | ${fmt(ns.tfWasmNN)}${rate(f, ns.tfWasmNN)} | ${ratio(ns.ours, ns.tfWasmNN)} | ${fmt(ns.tfCpu)} | ${ratio(ns.ours, ns.tfCpu)} |`,
    `| ${n} | full Muon step | ${fmt(step.oursStep)} | - | - | ${fmt(step.tfWasmStep)} | ${ratio(step.oursStep, step.tfWasmStep)} | - | - |`,
    `| ${n} | one matmul | ${fmt(matmul.matmul)}${rate(mf, matmul.matmul)} | ${fmt(matmul.tfMatmul)}${rate(mf, matmul.tfMatmul)} | ${ratio(matmul.matmul, matmul.tfMatmul)} | - | - | - | - |`,
  ];
}

/** The whole table and its note, from runMuon's result (for the console and BENCHMARKS.md). */
export function muonTable(result) {
  if (result?.error) return [`muon section failed: ${result.error}`];
  return [
    ...muonHeader(),
    ...Object.entries(result.sizes).flatMap(([n, row]) => muonLines(Number(n), row)),
    '',
    'GFLOP/s of an orthogonalization count the 30 n³ operations of the full products tfjs computes; ours computes 20 n³ (it skips the mirrored half of the two symmetric products, X·Xᵀ and A·A). Full Muon step: decay, momentum, Nesterov, orthogonalization, scaled update; tfjs does it in tf ops, with X·transpose(X), not at 1024 (tens of seconds per call).',
  ];
}

/**
 * Runs the section; returns { sizes: { [n]: { ns, step, matmul } } } with Stats per contender
 * (ns: ours, tfWasm, tfWasmNN, tfCpu at n <= tfCpuMax), printing each size's rows as it goes.
 */
export async function runMuon(tf, { samples, minMs, sizes = MUON_SIZES, tfCpuMax = 256, tfStepMax = 512 }) {
  await wo.ready();
  wo.setSimdEnabled(true);
  const out = { sizes: {}, stepsPerOrthogonalization: STEPS };
  console.log(muonHeader().join('\n'));
  for (const n of sizes) {
    const row = {};
    // The long ones take seconds per call: fewer samples there.
    const opts = { samples: n >= 1024 ? Math.min(samples, 5) : samples, minMs, warmup: 2 };
    const parts = [];
    try {
      const ns = [ourNewtonSchulz(n), await tfNewtonSchulz(tf, n, 'wasm', 'tfWasm'), await tfNewtonSchulz(tf, n, 'wasm', 'tfWasmNN', true)];
      if (n <= tfCpuMax) ns.push(await tfNewtonSchulz(tf, n, 'cpu', 'tfCpu'));
      parts.push(...ns);
      row.ns = Object.fromEntries(await race(ns, opts));
      const steps = n <= tfStepMax ? [ourStep(n), await tfStep(tf, n, 'wasm', 'tfWasmStep')] : [ourStep(n)];
      parts.push(...steps);
      row.step = Object.fromEntries(await race(steps, opts));
      const mm = [ourMatmul(n), await tfMatmul(tf, n)];
      parts.push(...mm);
      row.matmul = Object.fromEntries(await race(mm, opts));
    } finally {
      for (const p of parts) p.dispose();
    }
    console.log(muonLines(n, row).join('\n'));
    out.sizes[n] = row;
  }
  console.log(muonTable(out).slice(-2).join('\n'));
  return out;
}
