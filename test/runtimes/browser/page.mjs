// Runs in Chromium (bundled by test/runtimes-chromium.test.mjs). wasm-optim is NOT bundled here:
// it is the prebuilt browser bundle at /bundle/wasm-optim.browser.js, whose ready() fetches the
// optim.wasm beside it. tfjs (wasm backend) computes gradients; wasm-optim's Adam applies them.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as lib from '/bundle/wasm-optim.browser.js';
import { fineTune, uniform } from '../linear.mjs';
import { kernelSubset } from '../kernel-subset.mjs';

const log = (s) => (document.getElementById('log').textContent += `\n${s}`);

// A 2-32-32-1 MLP fitting a smooth 2-D function; gradients from tf.variableGrads.
async function trainMlp(steps) {
  const rand = uniform(3);
  const n = 256;
  const xs = new Float32Array(2 * n).map(() => rand());
  const ys = new Float32Array(n).map((_, i) => xs[2 * i] * xs[2 * i + 1] + 0.5 * xs[2 * i] * xs[2 * i]);
  const x = tf.tensor2d(xs, [n, 2]);
  const y = tf.tensor2d(ys, [n, 1]);
  const shapes = [[2, 32], [32], [32, 32], [32], [32, 1], [1]];
  const params = shapes.map((shape, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const scale = shape.length === 2 ? 1 / Math.sqrt(shape[0]) : 0;
    return new lib.Variable(new Float32Array(size).map(() => scale * rand()), { shape, name: `mlp${i}` });
  });
  const vars = params.map((p) => tf.variable(tf.tensor(p.value.slice(), p.shape), true, `browser/${p.name}`));
  const [w1, b1, w2, b2, w3, b3] = vars;
  const loss = () => {
    const h1 = tf.relu(tf.add(tf.matMul(x, w1), b1));
    const h2 = tf.relu(tf.add(tf.matMul(h1, w2), b2));
    return tf.mean(tf.square(tf.sub(tf.add(tf.matMul(h2, w3), b3), y)));
  };
  const opt = new lib.Adam({ learningRate: 0.01 });
  const pairs = params.map((p) => [null, p]);
  const losses = [];
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    const { value, grads } = tf.variableGrads(loss, vars);
    losses.push(value.dataSync()[0]);
    vars.forEach((v, i) => (pairs[i][0] = grads[v.name].dataSync()));
    opt.applyGradients(pairs);
    vars.forEach((v, i) => v.assign(tf.tensor(params[i].value.slice(), params[i].shape)));
    tf.dispose([value, grads]);
  }
  const ms = performance.now() - t0;
  const finalLoss = tf.tidy(() => loss().dataSync()[0]);
  tf.dispose([x, y, ...vars]);
  opt.dispose();
  for (const p of params) p.dispose();
  return { loss0: losses[0], finalLoss, steps, msPerStep: ms / steps };
}

window.result = (async () => {
  setWasmPaths('/tfjs/');
  await tf.setBackend('wasm');
  await lib.ready(); // the optim.wasm next to /bundle/wasm-optim.browser.js
  log(`tfjs backend ${tf.getBackend()}, wasm-optim ready`);
  const mlp = await trainMlp(200);
  log(`MLP loss ${mlp.loss0.toFixed(4)} -> ${mlp.finalLoss.toFixed(5)}`);
  const linear = Object.fromEntries(Object.entries(fineTune(lib, { steps: 300 })).map(([k, r]) => [k, r.digest]));
  const kernel = kernelSubset(lib); // kernel(): compiled in the page, same bits as Node
  log(`kernel() modes ${JSON.stringify(kernel.modes)}`);
  return { backend: tf.getBackend(), userAgent: navigator.userAgent, mlp, linear, kernel };
})().catch((e) => ({ error: String(e && e.stack ? e.stack : e) }));
