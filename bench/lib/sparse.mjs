// Sparse gradients on an embedding table: 1,000 gathered rows of a 100,000 x 64 table (1% of the
// rows, duplicates included), as a { indices, values } gradient through applyGradients, against
// the same optimizer given the equivalent dense gradient (read in place from wasm memory) and
// tf.train.adam given the dense tfjs gradient (what tfjs's gather gradient produces).
import * as wo from '../../build/index.js';
import { randomFloats, tfDense, TF_MATCH } from './contenders.mjs';

export const ROWS = 100000;
export const DIM = 64;
export const TOUCHED = 1000;

/** 1,000 row indices: 900 distinct rows, then 100 repeats of some of them, shuffled. */
export function embeddingGradient() {
  const pick = randomFloats(3 * TOUCHED, 0, 1, 77);
  const shuffle = randomFloats(TOUCHED, 0, 1, 79);
  const distinct = new Set();
  for (let i = 0; distinct.size < 900; i++) distinct.add(Math.floor(pick[i] * ROWS));
  const rows = [...distinct];
  for (let k = 0; rows.length < TOUCHED; k++) rows.push(rows[(k * 37) % 900]);
  for (let k = rows.length - 1; k > 0; k--) {
    const j = Math.floor(shuffle[k] * (k + 1));
    [rows[k], rows[j]] = [rows[j], rows[k]];
  }
  const indices = Int32Array.from(rows);
  const values = randomFloats(TOUCHED * DIM, -1, 1, 78);
  const dense = new Float32Array(ROWS * DIM);
  for (let r = 0; r < TOUCHED; r++) {
    const base = indices[r] * DIM;
    for (let c = 0; c < DIM; c++) dense[base + c] += values[r * DIM + c];
  }
  return { indices, values, dense, unique: new Set(rows).size };
}

/** One optimizer class on the table: its sparse path and its dense path (two instances). */
export function ourSparse(entry, grad) {
  const shape = [ROWS, DIM];
  const w = new wo.Variable(randomFloats(ROWS * DIM, -1, 1, 1), { name: 'table', shape });
  const gDense = new wo.Variable(grad.dense, { name: 'table_grad', shape });
  const opts = [];
  const sparsePairs = [[{ indices: grad.indices, values: grad.values }, w]];
  try {
    for (let i = 0; i < 2; i++) {
      const o = entry.make();
      opts.push(o);
      o.prepare([w]);
    }
    opts[0].applyGradients(sparsePairs); // sizes its de-duplication scratch once
  } catch (e) {
    for (const o of opts) o.dispose();
    w.dispose();
    gDense.dispose();
    throw e;
  }
  const [sparseOpt, denseOpt] = opts;
  const heap = wo.defaultHeap();
  const densePairs = [[gDense.value, w]];
  const fresh = () => {
    if (densePairs[0][0].buffer !== heap.memory.buffer) densePairs[0][0] = gDense.value;
  };
  return {
    contenders: [
      {
        id: `${entry.key}:sparse`,
        before: () => wo.setSimdEnabled(true),
        run: (reps) => { for (let r = 0; r < reps; r++) sparseOpt.applyGradients(sparsePairs); },
      },
      {
        id: `${entry.key}:dense`,
        before: () => (fresh(), wo.setSimdEnabled(true)),
        run: (reps) => { for (let r = 0; r < reps; r++) denseOpt.applyGradients(densePairs); },
      },
    ],
    dispose() {
      sparseOpt.dispose();
      denseOpt.dispose();
      w.dispose();
      gDense.dispose();
    },
  };
}

/** tf.train.adam on the dense [100000, 64] gradient. */
export async function tfSparseBaseline(backend, grad) {
  return tfDense(TF_MATCH.Adam, [ROWS, DIM], backend, `tfAdam:${backend}`, grad.dense);
}
