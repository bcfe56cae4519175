// wasm-optim/tfjs in model.fit and minimize on the cpu and wasm backends: training converges, the
// weights equal those of the core optimizer fed the same gradients, nothing leaks, and slots
// follow variables by name when `trainable` is toggled (tfjs#4290).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as core from '../build/index.js';
import * as optim from '../build/tfjs/index.js';
import { rng } from './helpers/random.mjs';

import { tf, tfl, quietly } from './helpers/tfjs.mjs';

const BACKENDS = ['cpu', 'wasm'];
const EXPECTED_MODE = { cpu: 'cpu', wasm: 'zero-copy' };

function data(seed, n, shape, f) {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = r.f32(n * size);
  const y = new Float32Array(n).map((_, i) => f(x.subarray(i * size, (i + 1) * size)));
  return [tf.tensor(x, [n, ...shape]), tf.tensor(y, [n, 1])];
}

/** Deterministic initial weights (tfjs-layers' initializers use Math.random). */
function seeded(model, seed = 11) {
  const r = rng(seed);
  model.setWeights(model.getWeights().map((t) => tf.tensor(r.f32(t.size, 0.4), t.shape)));
  return model;
}

const denseNet = () =>
  seeded(tfl.sequential({ layers: [tfl.layers.dense({ units: 16, inputShape: [4], activation: 'tanh' }), tfl.layers.dense({ units: 1 })] }));
const convNet = () =>
  seeded(tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 1 }),
    ],
  }));

/**
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so no conv net can train on it (with
 * tf.train.* either). For the conv tests on wasm a plain-JS one is registered (NHWC, any stride and
 * padding, no dilation), and removed afterwards.
 */
async function withWasmConvFilterGrad(fn) {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return fn();
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs: { x, dy }, backend, attrs }) => {
      const info = tf.backend_util.computeConv2DInfo(x.shape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      const xs = backend.typedArrayFromHeap(x);
      const dys = backend.typedArrayFromHeap(dy);
      const out = backend.makeOutput(attrs.filterShape, 'float32');
      const dw = backend.typedArrayFromHeap(out);
      const [N, H, W, C] = x.shape;
      const [, OH, OW, K] = dy.shape;
      const [FH, FW] = attrs.filterShape;
      dw.fill(0);
      for (let n = 0; n < N; n++)
        for (let i = 0; i < OH; i++)
          for (let j = 0; j < OW; j++)
            for (let fh = 0; fh < FH; fh++)
              for (let fw = 0; fw < FW; fw++) {
                const r = i * info.strideHeight + fh - info.padInfo.top;
                const c = j * info.strideWidth + fw - info.padInfo.left;
                if (r < 0 || r >= H || c < 0 || c >= W) continue;
                for (let ci = 0; ci < C; ci++) {
                  const xv = xs[((n * H + r) * W + c) * C + ci];
                  for (let k = 0; k < K; k++) dw[((fh * FW + fw) * C + ci) * K + k] += xv * dys[((n * OH + i) * OW + j) * K + k];
                }
              }
      return out;
    },
  });
  try {
    return await fn();
  } finally {
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
  }
}

/**
 * Feeds every gradient the tfjs optimizer receives to a core optimizer of the same class and
 * options, working on its own copies of the initial weights (default arena, by variable name).
 */
function mirror(opt, model) {
  const refVars = new Map();
  for (const w of model.weights) {
    const v = w.read();
    refVars.set(v.name, new core.Variable(v.dataSync().slice(), { name: v.name, shape: v.shape.length ? v.shape : [1] }));
  }
  const ref = opt.core.constructor.fromConfig(opt.core.getConfig());
  const apply = opt.applyGradients.bind(opt);
  opt.applyGradients = (vg) => {
    const list = Array.isArray(vg) ? vg : Object.entries(vg).map(([name, tensor]) => ({ name, tensor }));
    const pairs = list.filter((p) => p.tensor).map((p) => [Float32Array.from(p.tensor.dataSync()), refVars.get(p.name)]);
    ref.applyGradients(pairs);
    apply(vg);
  };
  const maxDiff = () => {
    let max = 0;
    for (const w of model.weights) {
      const a = w.read().dataSync();
      const b = refVars.get(w.read().name).value;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  };
  return { ref, maxDiff };
}

for (const backend of BACKENDS) {
  const cases = [
    ['dense net, AdamW', denseNet, () => data(1, 64, [4], (x) => Math.sin(x[0]) + x[1] * x[2] - 0.5 * x[3]), () => optim.adamw({ learningRate: 1e-2, weightDecay: 0.01 }), 20],
    ['conv net, SGD+nesterov', convNet, () => data(2, 32, [6, 6, 1], (x) => x[7] - x[20] + 0.5 * x[14]), () => optim.sgd({ learningRate: 0.02, momentum: 0.9, nesterov: true }), 25],
    ['conv net, Nadam + clipnorm + EMA', convNet, () => data(3, 32, [6, 6, 1], (x) => x[8] + x[27]), () => optim.nadam({ learningRate: 0.01, clipnorm: 1, useEma: true, emaMomentum: 0.9, emaOverwriteFrequency: 10 }), 25],
  ];
  for (const [label, makeModel, makeData, makeOpt, epochs] of cases) {
    test(`${backend}: model.fit (${label}) converges and equals the core optimizer on the same gradients`, () => withWasmConvFilterGrad(async () => {
      await tf.setBackend(backend);
      const [xs, ys] = makeData();
      const model = makeModel();
      const opt = makeOpt();
      model.compile({ optimizer: opt, loss: 'meanSquaredError' });
      const { ref, maxDiff } = mirror(opt, model);
      const h = await model.fit(xs, ys, { epochs, batchSize: 8, shuffle: false, verbose: 0 });
      const loss = h.history.loss;
      assert.is(opt.mode, EXPECTED_MODE[backend]);
      assert.is(opt.iterations, epochs * Math.ceil(xs.shape[0] / 8));
      assert.ok(loss[loss.length - 1] < 0.3 * loss[0], `loss ${loss[0]} -> ${loss[loss.length - 1]}`);
      assert.is(maxDiff(), 0, 'same kernels, same gradients: identical weights');
      if (opt.core.useEma) {
        opt.finalizeVariableValues(); // the averages into the tfjs variables
        ref.finalizeVariableValues();
        assert.is(maxDiff(), 0, 'finalizeVariableValues');
      }
      tf.dispose([xs, ys]);
      model.dispose();
      opt.dispose();
    }));
  }

  test(`${backend}: 100 minimize() steps leak no tensor and no byte; map and array forms agree`, async () => {
    await tf.setBackend(backend);
    const r = rng(5);
    const init = r.f32(40);
    const w1 = tf.variable(tf.tensor(init, [8, 5]));
    const w2 = tf.variable(tf.tensor(init, [8, 5]));
    const x = tf.tensor(r.f32(24), [3, 8]);
    const loss = (w) => () => tf.mean(tf.square(tf.sub(tf.matMul(x, w), 1)));
    const a = optim.adam({ learningRate: 0.01 });
    const b = optim.adam({ learningRate: 0.01 });
    a.minimize(loss(w1), false, [w1]); // array form, as model.fit
    b.minimize(loss(w2)); // named map form (every trainable variable; w1 has no path -> no key)
    const before = tf.memory();
    for (let i = 0; i < 100; i++) {
      a.minimize(loss(w1), false, [w1]);
      b.minimize(loss(w2));
    }
    const after = tf.memory();
    assert.is(after.numTensors, before.numTensors);
    assert.is(after.numBytes, before.numBytes);
    assert.equal(Array.from(w1.dataSync()), Array.from(w2.dataSync()), 'array and map forms give the same result');
    assert.is(a.iterations, 101);
    tf.dispose([w1, w2, x]);
    a.dispose();
    b.dispose();
  });

  test(`${backend}: model.fit steps keep tf.memory() flat (optimizer state lives outside tfjs' tensors)`, async () => {
    await tf.setBackend(backend);
    const [xs, ys] = data(6, 32, [4], (x) => x[0] - x[3]);
    const model = denseNet();
    const opt = optim.adam({ learningRate: 1e-3 });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    await model.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0 });
    const before = tf.memory();
    await model.fit(xs, ys, { epochs: 25, batchSize: 8, verbose: 0 }); // 100 steps
    const after = tf.memory();
    assert.is(after.numTensors, before.numTensors);
    assert.is(after.numBytes, before.numBytes);
    tf.dispose([xs, ys]);
    model.dispose();
    opt.dispose();
  });

  test(`${backend}: slots follow variables by name when trainable is toggled (tfjs#4290)`, async () => {
    await tf.setBackend(backend);
    const [xs, ys] = data(7, 32, [4], (x) => x[0] * x[1] + x[2]);
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 6, inputShape: [4], activation: 'tanh' }),
        tfl.layers.dense({ units: 5, activation: 'tanh' }),
        tfl.layers.dense({ units: 1 }),
      ],
    });
    const opt = optim.adam({ learningRate: 0.01 });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const { maxDiff } = mirror(opt, model);
    const fit = () => model.fit(xs, ys, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    await fit();
    model.layers[0].trainable = false; // the gradient list shrinks: positions shift, names do not
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const frozen = model.layers[0].getWeights().map((t) => Array.from(t.dataSync()));
    await fit();
    assert.equal(model.layers[0].getWeights().map((t) => Array.from(t.dataSync())), frozen, 'a frozen layer does not move');
    model.layers[0].trainable = true;
    model.layers[2].trainable = false;
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    await fit();
    assert.is(maxDiff(), 0, 'every variable kept its own moments');
    assert.is(opt.core.variables.length, 12, 'two slots per variable, none duplicated');
    tf.dispose([xs, ys]);
    model.dispose();
    opt.dispose();
  });
}

test('wasm: the packed-weight cache is real, and each step refreshes it', async () => {
  await tf.setBackend('wasm');
  const b = tf.backend();
  const mem = b.wasm.asm?.memory ?? b.wasm.wasmMemory;
  const x = tf.tensor2d([[1, 2]]);
  const w = tf.variable(tf.tensor2d([[1], [1]]));
  assert.is(tf.matMul(x, w).dataSync()[0], 3);
  // Writing in place without telling XNNPACK: matMul keeps using the old packed weights.
  new Float32Array(mem.buffer, b.getMemoryOffset(w.dataId), 2).set([2, 2]);
  assert.is(tf.add(w, 0).dataSync()[0], 2, 'elementwise ops see the new values');
  assert.is(tf.matMul(x, w).dataSync()[0], 3, 'matMul does not (this is the trap)');
  // A zero-copy step writes in place and refreshes: matMul sees the update.
  const opt = optim.sgd({ learningRate: 1 });
  opt.applyGradients({ [w.name]: tf.tensor2d([[1], [1]]) });
  assert.is(opt.mode, 'zero-copy');
  assert.equal(Array.from(w.dataSync()), [1, 1]);
  assert.is(tf.matMul(x, w).dataSync()[0], 3);
  opt.applyGradients({ [w.name]: tf.tensor2d([[1], [-1]]) });
  assert.is(tf.matMul(x, w).dataSync()[0], 0 * 1 + 2 * 2);
  tf.dispose([x, w]);
  opt.dispose();
});

test('wasm: with zero-copy switched off the copy path gives the same weights', async () => {
  await tf.setBackend('wasm');
  const run = async (zeroCopy) => {
    optim.setZeroCopyEnabled(zeroCopy);
    try {
      const [xs, ys] = data(9, 32, [4], (x) => x[1] - x[2]);
      const model = denseNet();
      const opt = optim.adam({ learningRate: 0.01, amsgrad: true });
      model.compile({ optimizer: opt, loss: 'meanSquaredError' });
      await model.fit(xs, ys, { epochs: 5, batchSize: 8, shuffle: false, verbose: 0 });
      const out = { mode: opt.mode, w: model.getWeights().map((t) => Array.from(t.dataSync())) };
      tf.dispose([xs, ys]);
      model.dispose();
      opt.dispose();
      return out;
    } finally {
      optim.setZeroCopyEnabled(true);
    }
  };
  const zc = await run(true);
  const copy = await run(false);
  assert.is(zc.mode, 'zero-copy');
  assert.is(copy.mode, 'copy');
  assert.equal(copy.w, zc.w);
});

test.run();
