// wasm-optim/tfjs: a steady-state step allocates nothing on the JS heap, in the zero-copy and cpu
// modes (docs/tfjs.md says so). Each case runs in a fresh process with a 1 MiB young generation
// (--max-semi-space-size=1) and counts garbage collections during STEPS steps of a 10-variable
// model with fixed gradient tensors: zero collections means fewer than 1 MiB / STEPS bytes per step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { repoFile } from './helpers/load-ts.mjs';

const STEPS = 30000;
const CASES = [
  ['wasm', 'adam', '{ learningRate: 1e-3 }', 'zero-copy'],
  ['wasm', 'adamw', '{ learningRate: 1e-3, weightDecay: 0.01, useEma: true, clipnorm: 1 }', 'zero-copy'],
  ['cpu', 'adam', '{ learningRate: 1e-3 }', 'cpu'],
  ['cpu', 'sgd', '{ learningRate: 1e-2, momentum: 0.9, useEma: true }', 'cpu'],
];

function probe(backend, factory, options) {
  const script = `
    import { PerformanceObserver } from 'node:perf_hooks';
    const { tf } = await import(${JSON.stringify(pathToFileURL(repoFile('test', 'helpers', 'tfjs.mjs')).href)});
    const optim = await import(${JSON.stringify(pathToFileURL(repoFile('build', 'tfjs', 'index.js')).href)});
    console.warn = () => {};
    await tf.setBackend(${JSON.stringify(backend)});
    const vars = Array.from({ length: 10 }, (_, i) => tf.tidy(() => tf.variable(tf.fill([100], 0.5), true, 'v' + i)));
    const grads = vars.map(() => tf.fill([100], 0.01));
    const map = Object.fromEntries(vars.map((v, i) => [v.name, grads[i]]));
    const opt = optim.${factory}(${options});
    for (let i = 0; i < 5000; i++) opt.applyGradients(map);
    let collections = 0;
    const obs = new PerformanceObserver((list) => { collections += list.getEntries().length; });
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 10));
    obs.observe({ entryTypes: ['gc'] });
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < ${STEPS}; i++) opt.applyGradients(map);
    await new Promise((r) => setTimeout(r, 10));
    obs.disconnect();
    console.log(JSON.stringify({ mode: opt.mode, collections, tensors: tf.memory().numTensors - tensors, finite: vars.every((v) => v.dataSync().every(Number.isFinite)) }));`;
  const res = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', script], { encoding: 'utf8' });
  try {
    return JSON.parse(res.stdout.trim().split('\n').pop());
  } catch {
    return { error: `${res.stdout}\n${res.stderr}` };
  }
}

for (const [backend, factory, options, mode] of CASES) {
  test(`${backend}: ${factory}(${options}): ${STEPS} steps, no garbage collection, no tensor made`, () => {
    const r = probe(backend, factory, options);
    assert.ok(!r.error, r.error);
    assert.is(r.mode, mode);
    assert.ok(r.finite);
    assert.is(r.tensors, 0, 'no tensor made per step');
    assert.is(r.collections, 0, `collections during ${STEPS} steps: ${JSON.stringify(r)}`);
  });
}

test.run();
