// wasm-optim/tfjs: optim.multiOptimizer in custom loops, model.compile / fit, and model.save /
// loadLayersModel (resume bit for bit), on the cpu and wasm backends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as core from '../build/index.js';
import * as optim from '../build/tfjs/index.js';
import { rng } from './helpers/random.mjs';
import { tf, tfl } from './helpers/tfjs.mjs';

function seeded(model, seed) {
  const r = rng(seed);
  model.setWeights(model.getWeights().map((t) => tf.tensor(r.f32(t.size, 0.4), t.shape)));
  return model;
}
const net = (seed = 3) =>
  seeded(tfl.sequential({ layers: [tfl.layers.dense({ units: 6, inputShape: [3], activation: 'tanh' }), tfl.layers.dense({ units: 1 })] }), seed);

function xy(seed = 4) {
  const r = rng(seed);
  const x = r.f32(48);
  return [tf.tensor(x, [16, 3]), tf.tensor(new Float32Array(16).map((_, i) => x[3 * i] - x[3 * i + 1] * x[3 * i + 2]), [16, 1])];
}

const weightsOf = (model) => model.getWeights().map((t) => Array.from(t.dataSync()));
const bitsOf = (model) => model.getWeights().map((t) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer)));

/** The first layer's variables go to SGD with momentum, the rest to Adam. */
const split = (model) =>
  optim.multiOptimizer(new core.OptimizerMap(new core.Adam({ learningRate: 0.01 }), { [`${model.layers[0].name}/.*`]: new core.SGD({ learningRate: 0.05, momentum: 0.9 }) }));

async function saveLoad(model) {
  let artifacts;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  const json = JSON.parse(JSON.stringify({ ...artifacts, weightData: undefined }));
  return tfl.loadLayersModel(tf.io.fromMemory({ ...json, weightData: artifacts.weightData }));
}

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: one step of a MultiOptimizer equals the two optimizers applied to their groups (custom loop)`, async () => {
    await tf.setBackend(backend);
    const [xs, ys] = xy();
    const a = net(5);
    const b = net(5);
    const multi = split(a);
    const sgd = optim.sgd({ learningRate: 0.05, momentum: 0.9 });
    const adam = optim.adam({ learningRate: 0.01 });
    const lossOf = (m) => () => tf.losses.meanSquaredError(ys, m.apply(xs));
    for (let s = 0; s < 4; s++) {
      const ga = tf.variableGrads(lossOf(a));
      multi.applyGradients(ga.grads);
      const gb = tf.variableGrads(lossOf(b));
      const first = {};
      const rest = {};
      for (const [name, g] of Object.entries(gb.grads)) (name.startsWith(`${b.layers[0].name}/`) ? first : rest)[name] = g;
      sgd.applyGradients(first);
      adam.applyGradients(rest);
      tf.dispose([ga.value, gb.value, ...Object.values(ga.grads), ...Object.values(gb.grads)]);
    }
    assert.equal(bitsOf(a), bitsOf(b));
    assert.is(multi.mode, backend === 'wasm' ? 'zero-copy' : 'cpu');
    assert.is(multi.iterations, 4);
    for (const o of [multi, sgd, adam]) o.dispose();
    a.dispose();
    b.dispose();
    tf.dispose([xs, ys]);
  });

  test(`${backend}: model.fit with everything routed to one Adam equals optim.adam, bit for bit (EMA; global clipping and loss scale on the MultiOptimizer)`, async () => {
    await tf.setBackend(backend);
    for (const [own, multi] of [[{ useEma: true }, {}], [{}, { globalClipnorm: 0.05, lossScaleFactor: 4 }]]) {
      const [xs, ys] = xy(6);
      const a = net(7);
      const b = net(7);
      a.compile({ optimizer: optim.multiOptimizer(new core.Adam({ learningRate: 0.02, ...own }), multi), loss: 'meanSquaredError' });
      b.compile({ optimizer: optim.adam({ learningRate: 0.02, ...own, ...multi }), loss: 'meanSquaredError' });
      for (const m of [a, b]) await m.fit(xs, ys, { epochs: 5, batchSize: 4, shuffle: false, verbose: 0 });
      assert.equal(bitsOf(a), bitsOf(b), JSON.stringify(multi));
      for (const m of [a, b]) {
        m.optimizer.dispose();
        m.dispose();
      }
      tf.dispose([xs, ys]);
    }
  });

  test(`${backend}: MultiOptimizer: train 6, save, load, train 6 == train 12, bit for bit`, async () => {
    await tf.setBackend(backend);
    const [xs, ys] = xy(8);
    const fit = (m, epochs) => m.fit(xs, ys, { epochs, batchSize: 8, shuffle: false, verbose: 0 });
    const straight = net(21);
    const o1 = split(straight);
    straight.compile({ optimizer: o1, loss: 'meanSquaredError' });
    await fit(straight, 12);
    const first = net(21);
    const o2 = split(first);
    first.compile({ optimizer: o2, loss: 'meanSquaredError' });
    await fit(first, 6);
    const loaded = await saveLoad(first);
    assert.instance(loaded.optimizer.core, core.MultiOptimizer);
    assert.equal(loaded.optimizer.core.getConfig(), o2.core.getConfig());
    await fit(loaded, 6);
    assert.is(loaded.optimizer.iterations, o1.iterations);
    assert.equal(loaded.optimizer.core.optimizers.map((o) => o.iterations), o1.core.optimizers.map((o) => o.iterations));
    assert.equal(weightsOf(loaded), weightsOf(straight));
    assert.equal(
      (await loaded.optimizer.getWeights()).map((x) => Array.from(x.tensor.dataSync())),
      (await o1.getWeights()).map((x) => Array.from(x.tensor.dataSync())),
      'same optimizer state',
    );
    for (const m of [straight, first, loaded]) m.dispose();
    for (const o of [o1, o2, loaded.optimizer]) o.dispose();
    tf.dispose([xs, ys]);
  });
}

test('optim.multiOptimizer: in train, a router function works in fit but cannot be saved', async () => {
  await tf.setBackend('cpu');
  assert.is(optim.train.multiOptimizer, optim.multiOptimizer);
  const [xs, ys] = xy(9);
  const m = net(10);
  const adam = new core.Adam({ learningRate: 0.01 });
  const opt = optim.multiOptimizer(() => adam);
  m.compile({ optimizer: opt, loss: 'meanSquaredError' });
  await m.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
  assert.is(adam.iterations, 4);
  try {
    await saveLoad(m);
    assert.unreachable('saved');
  } catch (e) {
    assert.match(e.message, 'a router function cannot be serialized');
  }
  opt.dispose();
  m.dispose();
  tf.dispose([xs, ys]);
});

test.run();
