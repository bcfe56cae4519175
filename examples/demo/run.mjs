// `npm run demo`: trains a small MLP on generated MNIST-like digits with tfjs (wasm backend),
// model.compile + model.fit, and compares tf.train.adam with several wasm-optim optimizers from
// `wasm-optim/tfjs` on the same batches. Shows a progress bar per run, prints a table, and writes
// the loss curves to loss-curves.svg next to this file, with the learning rate of the OneCycle run
// in a panel under them.
// Options: --epochs N (default 3), --out file.svg
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as optim from 'wasm-optim/tfjs';
import { COLORS, lossChartSvg } from './chart.mjs';
import { PIXELS, SIDE } from './digits.mjs';
import { BATCH, curve, dataset, EPOCHS, recentLoss, RUNS, tableRows, trainRun, warmUp } from './train.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const epochs = Number(arg('epochs', EPOCHS));
const out = arg('out', fileURLToPath(new URL('loss-curves.svg', import.meta.url)));
const tty = process.stdout.isTTY;

await tf.setBackend('wasm');
await optim.ready();
const data = dataset(tf);
await warmUp({ tf, tfl, data });
const steps = epochs * data.stepsPerEpoch;

console.log(`wasm-optim demo: a ${PIXELS}-128-10 MLP (tfjs-layers) on ${data.train} generated ${SIDE}x${SIDE} digits, ${data.test} held out.`);
console.log(`model.fit: batch ${BATCH}, ${epochs} epochs = ${steps} steps per optimizer; tfjs ${tf.version_core}, '${tf.getBackend()}' backend.\n`);
printSamples(data);

const width = Math.max(...RUNS.map((r) => r.name.length));
const results = RUNS.map((run) => ({ run, stats: { steps: 0, ms: 0, losses: [] } }));

if (tty) for (const r of results) console.log(bar(r));
for (const r of results) {
  let last = 0;
  r.stats = await trainRun({
    tf,
    tfl,
    optim,
    data,
    run: r.run,
    epochs,
    onBatch: (stats) => {
      r.stats = stats;
      const t = performance.now();
      if (tty && t - last > 100) {
        redrawBar(r);
        last = t;
      }
    },
  });
  if (tty) redrawBar(r);
  else console.log(bar(r));
}

console.log('');
printTable(tableRows(results));

const svg = lossChartSvg(
  results.map(({ run, stats }, i) => ({ name: run.name, color: COLORS[i], dashed: run.baseline, points: curve(stats.losses) })),
  { title: 'MLP on generated digits: training loss', subtitle: `tfjs ${tf.getBackend()} backend, model.fit, batch ${BATCH}, smoothed (EMA 0.9)`, maxStep: steps, lr: lrSeries(results) },
);
writeFileSync(out, svg);
console.log(`\nloss curves: ${out}`);

// The first run with a learning-rate schedule, drawn under the loss curves in its colour.
function lrSeries(results) {
  const i = results.findIndex(({ stats }) => stats.learningRates?.length);
  if (i < 0) return undefined;
  const rates = results[i].stats.learningRates;
  const every = Math.max(1, Math.ceil(rates.length / 200));
  return { name: results[i].run.name, color: COLORS[i], points: rates.map((r, k) => [k + 1, r]).filter((_, k) => k % every === 0 || k === rates.length - 1) };
}

function bar({ run, stats: s }) {
  const cells = 24;
  const full = Math.round((s.steps / steps) * cells);
  const rate = s.ms > 0 ? (1000 * s.steps) / s.ms : 0;
  const loss = s.losses.length ? recentLoss(s.losses).toFixed(4) : '   -  ';
  return `${run.name.padEnd(width)}  ${'█'.repeat(full)}${'░'.repeat(cells - full)} ${String(s.steps).padStart(4)}/${steps}  loss ${loss}  ${rate.toFixed(0).padStart(4)} steps/s`;
}

// On a terminal every run has a line, redrawn in place; in a log, a line per finished run.
function redrawBar(r) {
  const up = results.length - results.indexOf(r);
  process.stdout.write(`\x1b[${up}A\r\x1b[2K${bar(r)}\x1b[${up}B\r`);
}

function printTable(rows) {
  const head = Object.keys(rows[0]);
  const widths = head.map((h) => Math.max(h.length, ...rows.map((row) => row[h].length)));
  const line = (cells) => cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(head.map((h) => row[h])));
  console.log('\nfinal loss: mean of the last 20 batch losses; step share: time in the optimizer step / time in model.fit.');
}

// Three training images side by side, two pixel rows per character row.
function printSamples({ xTrain }) {
  const images = xTrain.dataSync().subarray(0, 3 * PIXELS);
  const shades = ' .:-=+*#%@';
  for (let v = 0; v < SIDE; v += 2) {
    let line = '  ';
    for (let k = 0; k < 3; k++) {
      for (let u = 0; u < SIDE; u++) {
        const mean = (images[k * PIXELS + v * SIDE + u] + images[k * PIXELS + (v + 1) * SIDE + u]) / 2;
        line += shades[Math.min(9, Math.floor(mean * 10))];
      }
      line += '    ';
    }
    console.log(line);
  }
  console.log('');
}
