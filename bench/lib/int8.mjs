// The `int8` section: Adam with stateDtype 'int8' against float32 Adam at 1e6 (state in cache on
// most machines: the goal is within 1.3x) and 1e7 (DRAM-bound: the goal is faster, as it moves 16
// bytes per parameter per step instead of 28), the gradient read in place from wasm memory; also
// SGD momentum, Lion, RMSprop, Adagrad, AdEMAMix and Adan at 1e6, and the bytes of optimizer state per parameter
// (arena live bytes). Medians of alternating samples (measure.mjs).
import * as wo from '../../build/index.js';
import { randomFloats } from './contenders.mjs';
import { race } from './measure.mjs';

const PAIRS = [
  ['Adam', (dtype) => new wo.Adam({ stateDtype: dtype })],
  ['SGD momentum', (dtype) => new wo.SGD({ momentum: 0.9, stateDtype: dtype })],
  ['Lion', (dtype) => new wo.Lion({ stateDtype: dtype })],
  ['RMSprop', (dtype) => new wo.RMSprop({ stateDtype: dtype })],
  ['Adagrad', (dtype) => new wo.Adagrad({ stateDtype: dtype })],
  ['AdEMAMix', (dtype) => new wo.AdEMAMix({ stateDtype: dtype })],
  ['Adan', (dtype) => new wo.Adan({ stateDtype: dtype })],
];

/** A contender: `make(dtype)` stepping a variable of n elements with a wasm-resident gradient. */
function contender(id, make, n) {
  const heap = wo.defaultHeap();
  // Rows of 1,000: Adagrad (like LazyAdam) lays 8-bit slots out by row and keeps float32 for 1-D variables.
  const shape = [n / 1000, 1000];
  const w = new wo.Variable(randomFloats(n, -1, 1, 3), { name: 'w', shape });
  const g = new wo.Variable(randomFloats(n, -0.01, 0.01, 4), { name: 'g', shape });
  const before = heap.liveBytes;
  const opt = make();
  opt.prepare([w]);
  const stateBytes = heap.liveBytes - before;
  const pairs = [[g.value, w]];
  return {
    id,
    stateBytes,
    before: () => {
      if (pairs[0][0].buffer !== heap.memory.buffer) pairs[0][0] = g.value;
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

export async function runInt8Bench({ samples, minMs, sizes = [1e6, 1e7] }) {
  const rows = [];
  const runs = [];
  for (const n of sizes) for (const [name, make] of PAIRS) if (name === 'Adam' || n === 1e6) runs.push([name, make, n]);
  for (const [name, make, n] of runs) {
    const cs = ['float32', 'int8'].map((dtype) => contender(`${name} ${dtype}`, () => make(dtype), n));
    try {
      const stats = await race(cs, { samples, minMs });
      const f = stats.get(cs[0].id).ms;
      const q = stats.get(cs[1].id).ms;
      rows.push({ optimizer: name, n, float32Ms: f, int8Ms: q, ratio: q / f, float32BytesPerParam: cs[0].stateBytes / n, int8BytesPerParam: cs[1].stateBytes / n });
    } finally {
      for (const c of cs) c.dispose();
    }
  }
  return { rows };
}

export function int8Table(result) {
  if (!result || result.error) return [`int8 section failed: ${result?.error ?? 'not run'}`];
  const out = ['| optimizer | n | float32 ms | int8 ms | int8 / float32 | state B/param float32 | state B/param int8 |', '|---|---|---|---|---|---|---|'];
  for (const r of result.rows) {
    out.push(`| ${r.optimizer} | ${r.n.toExponential(0)} | ${r.float32Ms.toFixed(3)} | ${r.int8Ms.toFixed(3)} | ${r.ratio.toFixed(2)}x | ${r.float32BytesPerParam.toFixed(2)} | ${r.int8BytesPerParam.toFixed(3)} |`);
  }
  return out;
}
