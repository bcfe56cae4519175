// The `pipeline` section: the fine-tuning recipe (weight decay, global clipping, EMA, skipping
// non-finite steps, dynamic loss scaling) against plain Adam, side by side in one race, at 1e6
// (8 variables: the working set out of cache) and 1e7 elements per variable, gradients read in
// place from wasm memory. Each configuration's goal is plain Adam's time scaled by the bytes it
// cannot avoid moving per element (Adam reads w, g, m, v and writes w, m, v: 7 floats; a global
// reduction re-reads g: 8; the EMA reads and writes the average: +2), with 10% slack.
// bench/run.mjs runs it in a fresh process (`node bench/lib/pipeline.mjs '<options JSON>'` prints
// the result as JSON): after the earlier sections the bench process ran every contender about 1.5x
// slower, and the ones with a reduction pass more so (Adam at 1e7: 8.8 ms there, 6.0 ms fresh).
import * as wo from '../../build/index.js';
import { randomFloats } from './contenders.mjs';
import { race } from './measure.mjs';

/** [name, floats moved per element, make()]. */
export const CONFIGS = [
  ['Adam', 7, () => new wo.Adam()],
  ['AdamW (weightDecay 0.01)', 7, () => new wo.AdamW({ weightDecay: 0.01 })],
  ['AdamW + globalClipnorm 1', 8, () => new wo.AdamW({ weightDecay: 0.01, globalClipnorm: 1 })],
  ['AdamW + globalClipnorm + useEma', 10, () => new wo.AdamW({ weightDecay: 0.01, globalClipnorm: 1, useEma: true })],
  ['AdamW + skipNonFinite', 8, () => new wo.AdamW({ weightDecay: 0.01, skipNonFinite: true })],
  ['LossScaleOptimizer(AdamW)', 8, () => new wo.LossScaleOptimizer(new wo.AdamW({ weightDecay: 0.01 }))],
  ['AdamW + clipvalue 0.5', 7, () => new wo.AdamW({ weightDecay: 0.01, clipvalue: 0.5 })],
];

const SLACK = 1.1;

function contender(name, make, grads, n) {
  const vars = grads.map((_, i) => new wo.Variable(randomFloats(n, -1, 1, 10 + i), { name: `w${i}` }));
  const opt = make();
  opt.prepare(vars);
  const pairs = grads.map((g, i) => [g.value, vars[i]]);
  const heap = wo.defaultHeap();
  return {
    id: name,
    before: () => {
      if (pairs[0][0].buffer !== heap.memory.buffer) for (let i = 0; i < pairs.length; i++) pairs[i][0] = grads[i].value;
    },
    run: (reps) => {
      for (let r = 0; r < reps; r++) opt.applyGradients(pairs);
    },
    dispose() {
      opt.dispose();
      for (const v of vars) v.dispose();
    },
  };
}

export async function runPipelineBench({ samples, minMs, sizes = [[1e6, 8], [1e7, 1]] }) {
  const rows = [];
  for (const [n, count] of sizes) {
    // Small gradients: with the loss scale of 2**15 they stay finite, and no step is skipped.
    const grads = Array.from({ length: count }, (_, i) => new wo.Variable(randomFloats(n, -0.01, 0.01, 100 + i), { name: `g${i}` }));
    const cs = [];
    try {
      for (const [name, , make] of CONFIGS) cs.push(contender(name, make, grads, n));
      const stats = await race(cs, { samples, minMs });
      const adam = stats.get('Adam').ms;
      for (const [name, floats] of CONFIGS) {
        const ms = stats.get(name).ms;
        const goal = (SLACK * floats) / 7;
        rows.push({ config: name, n, variables: count, bytesPerElement: floats * 4, ms, ratio: ms / adam, goal, met: ms / adam <= goal });
      }
    } finally {
      for (const c of cs) c.dispose();
      for (const g of grads) g.dispose();
    }
  }
  return { rows };
}

export function pipelineTable(result) {
  if (!result || result.error) return [`pipeline section failed: ${result?.error ?? 'not run'}`];
  const out = [
    '| configuration | elements per variable | bytes per element | ms per step | / Adam | goal | met |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of result.rows) {
    out.push(`| ${r.config} | ${r.variables} x ${r.n.toExponential(0)} | ${r.bytesPerElement} | ${r.ms.toFixed(3)} | ${r.ratio.toFixed(2)}x | <= ${r.goal.toFixed(2)}x | ${r.met ? 'yes' : 'no'} |`);
  }
  return out;
}

if (process.argv[1] && new URL(`file://${process.argv[1]}`).href === import.meta.url) {
  await wo.ready();
  console.log(JSON.stringify(await runPipelineBench(JSON.parse(process.argv[2] ?? '{}'))));
}
