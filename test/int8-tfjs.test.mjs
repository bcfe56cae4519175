// 8-bit optimizer state through the tfjs entry (docs/int8-state.md): the factories take
// stateDtype; on the wasm backend the weights stay zero-copy while the 8-bit slots live in the
// backend's heap; model.save stores a slot as its dequantized float32 values (the names and dtypes
// of a float32 optimizer's weights) and loading requantizes them, which gives back the same codes
// and absmax: train, save, load, train == train straight through, bit for bit, on cpu and wasm.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as core from '../build/index.js';
import * as optim from '../build/tfjs/index.js';
import { rng } from './helpers/random.mjs';
import { tf, tfl } from './helpers/tfjs.mjs';

// A first layer of 80 x 64 = 5,120 weights (8-bit slots) and a small second one (float32 slots).
function net(seed) {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 64, inputShape: [80], activation: 'tanh' }), tfl.layers.dense({ units: 1 })] });
  const r = rng(seed);
  model.setWeights(model.getWeights().map((t) => tf.tensor(r.f32(t.size, 0.2), t.shape)));
  return model;
}

function xy(seed) {
  const r = rng(seed);
  const x = r.f32(32 * 80);
  const y = new Float32Array(32).map((_, i) => Math.sin(x[80 * i] * 3) + x[80 * i + 1]);
  return [tf.tensor(x, [32, 80]), tf.tensor(y, [32, 1])];
}

async function saveLoad(model) {
  let artifacts;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }), { includeOptimizer: true });
  const json = JSON.parse(JSON.stringify({ ...artifacts, weightData: undefined }));
  return tfl.loadLayersModel(tf.io.fromMemory({ ...json, weightData: artifacts.weightData }));
}

const weightsOf = (model) => model.getWeights().map((t) => Array.from(t.dataSync()));

const makers = [
  ['adam', () => optim.adam({ learningRate: 0.01, stateDtype: 'int8' })],
  ['rmsprop + momentum', () => optim.rmsprop({ learningRate: 0.001, momentum: 0.9, stateDtype: 'int8' })],
  ['lion', () => optim.lion({ learningRate: 0.001, stateDtype: 'int8' })],
  ['ademamix', () => optim.ademamix({ learningRate: 0.001, stateDtype: 'int8' })],
  ['adan', () => optim.adan({ learningRate: 0.001, stateDtype: 'int8' })],
];

for (const backend of ['cpu', 'wasm']) {
  for (const [label, make] of makers) {
    test(`${backend}: ${label} with stateDtype int8: train 6, save, load, train 6 == train 12, bit for bit`, async () => {
      await tf.setBackend(backend);
      const [xs, ys] = xy(3);
      const fit = (m, epochs) => m.fit(xs, ys, { epochs, batchSize: 8, shuffle: false, verbose: 0 });
      const straight = net(5);
      const o1 = make();
      straight.compile({ optimizer: o1, loss: 'meanSquaredError' });
      await fit(straight, 12);
      const first = net(5);
      const o2 = make();
      first.compile({ optimizer: o2, loss: 'meanSquaredError' });
      await fit(first, 6);
      assert.is(o2.core.stateDtype, 'int8');
      assert.is(o2.mode, backend === 'wasm' ? 'zero-copy' : 'cpu');
      const slots = o2.core.variables;
      assert.ok(slots.some((s) => s instanceof core.QuantizedSlot), 'the 5,120-weight kernel has 8-bit slots');
      assert.ok(slots.some((s) => !(s instanceof core.QuantizedSlot)), 'the small layers keep float32 slots');
      // What model.save stores: float32 tensors under the slot names, the dequantized values.
      const saved = await o2.getWeights();
      for (const s of slots) {
        const w = saved.find((x) => x.name === s.name || x.name.endsWith(s.name.slice(s.name.indexOf('/'))));
        if (w) assert.is(w.tensor.dtype, 'float32');
      }
      const loaded = await saveLoad(first);
      await fit(loaded, 6);
      assert.is(loaded.optimizer.core.stateDtype, 'int8');
      assert.is(loaded.optimizer.mode, backend === 'wasm' ? 'zero-copy' : 'cpu');
      assert.equal(weightsOf(loaded), weightsOf(straight));
      // The same state, slot by slot (the models' layer names differ; the order is the build order).
      const a = Object.values(loaded.optimizer.core.getState().variables);
      const b = Object.values(o1.core.getState().variables);
      assert.is(a.length, b.length);
      b.forEach((v, i) => {
        if (v.quantized) {
          assert.equal(a[i].quantized.codes, v.quantized.codes, `slot ${i}: codes`);
          assert.equal(a[i].quantized.absmax, v.quantized.absmax, `slot ${i}: absmax`);
        } else assert.equal(a[i].values, v.values, `slot ${i}: values`);
      });
      for (const m of [straight, first, loaded]) m.dispose();
      for (const o of [o1, o2, loaded.optimizer]) o.dispose();
      tf.dispose([xs, ys]);
    });
  }
}

test('the factories refuse a bad stateDtype', () => {
  assert.throws(() => optim.adam({ stateDtype: 'int4' }), /stateDtype must be 'float32' or 'int8'/);
  assert.throws(() => optim.rmsprop({ centered: true, stateDtype: 'int8' }), /centered is not supported/);
});

test.run();
