// kernel() under TensorFlow.js: the AdaBelief example (examples/custom-optimizers/adabelief.ts)
// becomes a tfjs optimizer with fromCore and trains a model with model.fit on the cpu and wasm
// backends. On wasm (zero-copy) the kernel runs over tfjs's own heap (a foreign memory, its
// gradients views of it); the weights equal the same steps taken by hand on core Variables.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import * as core from '../build/index.js';
import * as optim from '../build/tfjs/index.js';
import { tf, tfl, quietly } from './helpers/tfjs.mjs';
import { importTs, repoFile } from './helpers/load-ts.mjs';
import { rng } from './helpers/random.mjs';

let ex;
test.before(async () => {
  // When the suite starts (see kernel-adabelief.test.mjs: a className shared with custom-kernel's example).
  ex = await importTs(readFileSync(repoFile('examples/custom-optimizers/adabelief.ts'), 'utf8'), 'tfjs-adabelief-kernel');
});

function net(seed) {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 6, inputShape: [3], activation: 'tanh' }), tfl.layers.dense({ units: 1 })] });
  const r = rng(seed);
  model.setWeights(model.getWeights().map((t) => tf.tensor(r.f32(t.size, 0.4), t.shape)));
  return model;
}

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: AdaBelief via kernel() trains with model.fit (fromCore) and equals the same steps on core Variables`, async () => {
    await quietly(() => tf.setBackend(backend));
    const r = rng(4);
    const x = r.f32(48);
    const xs = tf.tensor(x, [16, 3]);
    const ys = tf.tensor(new Float32Array(16).map((_, i) => x[3 * i] - x[3 * i + 1] * x[3 * i + 2]), [16, 1]);
    const options = { learningRate: 0.01, beta1: 0.8, epsilon: 1e-8 };
    const model = net(13);
    const opt = optim.fromCore(new ex.AdaBelief(options));
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const h = await model.fit(xs, ys, { epochs: 10, batchSize: 4, shuffle: false, verbose: 0 });
    assert.ok(h.history.loss.at(-1) < h.history.loss[0], `loss ${h.history.loss[0]} -> ${h.history.loss.at(-1)}`);
    assert.is(opt.mode, backend === 'wasm' ? 'zero-copy' : 'cpu');
    assert.is(ex.adabeliefKernel.mode, 'compiled');
    // The same steps by hand on core Variables (the default arena).
    const ref = new ex.AdaBelief(options);
    const refModel = net(13);
    const vars = refModel.weights.map((w) => new core.Variable(w.read().dataSync().slice(), { name: w.read().name, shape: w.shape }));
    for (let e = 0; e < 10; e++) {
      for (let b = 0; b < 4; b++) {
        const xb = tf.slice(xs, [4 * b, 0], [4, 3]);
        const yb = tf.slice(ys, [4 * b, 0], [4, 1]);
        refModel.setWeights(vars.map((v) => tf.tensor(v.value.slice(), v.shape)));
        const { grads } = tf.variableGrads(() => tf.losses.meanSquaredError(yb, refModel.apply(xb)), refModel.trainableWeights.map((w) => w.read()));
        ref.applyGradients(refModel.weights.map((w, i) => [grads[w.read().name].dataSync().slice(), vars[i]]));
        tf.dispose([xb, yb, ...Object.values(grads)]);
      }
    }
    const got = model.getWeights().flatMap((t) => Array.from(t.dataSync()));
    const want = vars.flatMap((v) => Array.from(v.value));
    const maxDiff = Math.max(...got.map((a, i) => Math.abs(a - want[i])));
    assert.ok(maxDiff < 1e-5, `max |dw| ${maxDiff}`);
    for (const m of [model, refModel]) m.dispose();
    opt.dispose();
    ref.dispose();
    vars.forEach((v) => v.dispose());
    tf.dispose([xs, ys]);
  });
}

test.run();
