// wasm-optim/tfjs state and serialization: getConfig/fromConfig round-trip every option (schedules
// included) through model.save / loadLayersModel, getWeights/setWeights, bit-exact resume after
// save + load on cpu and wasm, mismatched saved state, and users' own core subclasses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import * as core from '../build/index.js';
import * as optim from '../build/tfjs/index.js';
import { importTs, repoFile } from './helpers/load-ts.mjs';
import { rng } from './helpers/random.mjs';

import { tf, tfl, quietly } from './helpers/tfjs.mjs';

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

/** model.save into memory, through JSON like a file (the weights stay binary), and back. */
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
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory({ ...json, weightData: artifacts.weightData }));
  return { loaded, artifacts: json };
}

/** Awaits `promise` and checks that it rejects with an error matching `pattern` (a regex or a class). */
async function rejects(promise, pattern) {
  try {
    await promise;
  } catch (e) {
    if (pattern instanceof RegExp) assert.match(String(e?.message), pattern);
    else assert.instance(e, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

const weightsOf = (model) => model.getWeights().map((t) => Array.from(t.dataSync()));

// ---------------------------------------------------------------- configs

class Halving extends core.LearningRateSchedule {
  static className = 'Halving_Schedule'; // '_' on purpose: tfjs-layers' loader camel-cases such strings
  constructor({ initial_rate, every }) {
    super();
    this.initial_rate = initial_rate;
    this.every = every;
  }
  call(step) {
    return this.initial_rate * 0.5 ** Math.floor(step / this.every);
  }
  getConfig() {
    return { initial_rate: this.initial_rate, every: this.every, note: 'keep_me 100%' };
  }
}
core.registerClass(Halving);

/** Non-default values for every base option (a schedule as learning rate). */
const baseOptions = (name) => ({
  learningRate: new core.ExponentialDecay({ initialLearningRate: 0.02, decaySteps: 3, decayRate: 0.5, staircase: true }),
  name: `my_${name}`,
  clipnorm: 0.5,
  weightDecay: 0.001,
  useEma: true,
  emaMomentum: 0.8,
  emaOverwriteFrequency: 4,
  lossScaleFactor: 8,
  gradientAccumulationSteps: 2,
});

// Each factory's arguments, stated: every optimizer takes every base option; the wrappers take an
// inner optimizer that has them (the base options belong to it) and their own name. A factory that
// refuses its arguments fails the test; a factory missing here fails it too.
const FULL = (name) => optim.train[name](baseOptions(name));
const WRAPPED = (name) => optim.train[name](new core.Adam(baseOptions(name)), { name: `my_${name}` });
const ARGUMENTS = {
  adadelta: FULL, adafactor: FULL, adagrad: FULL, adam: FULL, adamw: FULL, adamax: FULL, ftrl: FULL, lamb: FULL,
  lazyAdam: FULL, lion: FULL, momentum: FULL, nadam: FULL, radam: FULL, rmsprop: FULL, sgd: FULL, yogi: FULL,
  muon: FULL,
  scheduleFreeAdamW: FULL, scheduleFreeSGD: FULL,
  adan: FULL, adopt: FULL, ademamix: FULL, prodigy: FULL,
  lookahead: WRAPPED, lossScaleOptimizer: WRAPPED, swa: WRAPPED,
  // Base options on the inner optimizers; the map routes the first layer's variables to an SGD.
  multiOptimizer: (name) => optim.train[name](new core.OptimizerMap(new core.Adam(baseOptions(name)), { 'dense_.*/kernel': new core.SGD({ momentum: 0.5 }) }), { name: `my_${name}`, lossScaleFactor: 4 }),
};
const build = (name) => ARGUMENTS[name](name);

test('every optimizer of the package has a factory, and configs round-trip through save/load (schedules included)', async () => {
  await tf.setBackend('cpu');
  const names = Object.keys(optim.train);
  assert.equal(names.slice().sort(), Object.keys(ARGUMENTS).sort(), 'every factory has its arguments stated above');
  const [xs, ys] = xy();
  for (const name of names) {
    const opt = build(name);
    const config = opt.getConfig();
    const T = optim.toTfjs(opt.core.constructor);
    assert.equal(T.fromConfig(T, JSON.parse(JSON.stringify(config))).getConfig(), config, `${name}: fromConfig(getConfig())`);
    const model = net();
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    await model.fit(xs, ys, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
    const { loaded, artifacts } = await saveLoad(model);
    assert.is(artifacts.trainingConfig.optimizer_config.class_name, `wasm-optim.${opt.core.getClassName()}`);
    assert.is(loaded.optimizer.constructor, T, `${name}: rebuilt as the same class`);
    assert.equal(loaded.optimizer.core.getConfig(), opt.core.getConfig(), `${name}: every option survives the loader`);
    assert.is(loaded.optimizer.iterations, opt.iterations);
    model.dispose();
    loaded.dispose();
    opt.dispose();
    loaded.optimizer.dispose();
  }
  tf.dispose([xs, ys]);
});

test('a schedule and strings with "_" and "%" survive tfjs-layers\' camel-casing loader', async () => {
  await tf.setBackend('cpu');
  const opt = optim.adam({ learningRate: new Halving({ initial_rate: 0.05, every: 2 }), name: 'odd_name' });
  const model = net();
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const { loaded, artifacts } = await saveLoad(model);
  assert.ok(!JSON.stringify(artifacts.trainingConfig.optimizer_config.config.learningRate).includes('_'), 'escaped on disk');
  const lr = loaded.optimizer.core.learningRateSchedule;
  assert.ok(lr instanceof Halving);
  assert.equal(lr.getConfig(), { initial_rate: 0.05, every: 2, note: 'keep_me 100%' });
  assert.is(loaded.optimizer.core.name, 'odd_name');
  model.dispose();
  loaded.dispose();
});

// ---------------------------------------------------------------- weights

test('getWeights: [iter, ...slots] with unique names; repeated saves do not leak; setWeights copies', async () => {
  await tf.setBackend('cpu');
  const [xs, ys] = xy();
  const model = net();
  const opt = optim.nadam({ learningRate: 0.01 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  await model.fit(xs, ys, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
  const w = await opt.getWeights();
  assert.is(w[0].name, 'iter');
  assert.is(w[0].tensor.dtype, 'int32');
  assert.is(w[0].tensor.dataSync()[0], 8);
  const names = w.map((x) => x.name);
  assert.is(new Set(names).size, names.length);
  assert.ok(names.includes('u_product'), 'optimizer-wide variables too');
  assert.is(names.filter((n) => n.endsWith('/m')).length, 4);
  const copies = w.map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) await saveLoad(model).then(({ loaded }) => loaded.dispose());
  assert.is(tf.memory().numTensors, before, 'the tensors of the previous getWeights are released');
  assert.ok(w[1].tensor.isDisposed, 'getWeights tensors live until the next getWeights');
  // setWeights copies: the caller may dispose its tensors right away (loadLayersModel does).
  const other = optim.nadam({ learningRate: 0.01 });
  await other.setWeights(copies);
  tf.dispose(copies.map((c) => c.tensor));
  assert.is(other.iterations, 8);
  const again = await other.getWeights();
  assert.equal(again.map((x) => x.name).sort(), names.slice().sort());
  model.dispose();
  tf.dispose([xs, ys]);
});

for (const backend of ['cpu', 'wasm']) {
  const makers = [
    ['AdamW', () => optim.adamw({ learningRate: 0.01, weightDecay: 0.05 })],
    ['Nadam + EMA', () => optim.nadam({ learningRate: 0.01, useEma: true, emaOverwriteFrequency: 6 })],
    ['SGD momentum + accumulation', () => optim.sgd({ learningRate: 0.05, momentum: 0.9, gradientAccumulationSteps: 3 })],
    ['Lookahead(Adam)', () => optim.lookahead(new core.Adam({ learningRate: 0.01 }), { syncPeriod: 4 })],
  ];
  for (const [label, make] of makers) {
    test(`${backend}: ${label}: train 10, save, load, train 10 == train 20, bit for bit`, async () => {
      await tf.setBackend(backend);
      const [xs, ys] = xy(8);
      const fit = (m, epochs) => m.fit(xs, ys, { epochs, batchSize: 16, shuffle: false, verbose: 0 });
      const straight = net(21);
      const o1 = make();
      straight.compile({ optimizer: o1, loss: 'meanSquaredError' });
      await fit(straight, 20);
      const first = net(21);
      const o2 = make();
      first.compile({ optimizer: o2, loss: 'meanSquaredError' });
      await fit(first, 10);
      const { loaded } = await saveLoad(first);
      // The originals still exist, so tfjs-layers renamed the reloaded variables ('.../kernel_1').
      assert.ok(loaded.weights.every((w) => /_\d+$/.test(w.read().name)), 'renamed variables');
      await fit(loaded, 10);
      assert.is(loaded.optimizer.mode, backend === 'wasm' ? 'zero-copy' : 'cpu');
      assert.is(loaded.optimizer.iterations, o1.iterations);
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
}

test('saved slots of a variable frozen after loading wait for it, and resume it exactly', async () => {
  await tf.setBackend('wasm');
  const [xs, ys] = xy(14);
  const fit = (m, epochs) => m.fit(xs, ys, { epochs, batchSize: 8, shuffle: false, verbose: 0 });
  const setTrainable = (m, opt, first) => {
    m.layers[0].trainable = first;
    m.compile({ optimizer: opt, loss: 'meanSquaredError' });
  };
  const straight = net(15);
  const o1 = optim.adam({ learningRate: 0.02 });
  straight.compile({ optimizer: o1, loss: 'meanSquaredError' });
  await fit(straight, 3);
  const { loaded } = await saveLoad(straight);
  for (const [m, opt] of [[straight, o1], [loaded, loaded.optimizer]]) {
    setTrainable(m, opt, false);
    await fit(m, 2);
  }
  const waiting = (await loaded.optimizer.getWeights()).map((w) => w.name).filter((n) => n.startsWith(straight.layers[0].name));
  assert.is(waiting.length, 4, 'the frozen layer\'s saved slots are kept (and still saved)');
  for (const [m, opt] of [[straight, o1], [loaded, loaded.optimizer]]) {
    setTrainable(m, opt, true);
    await fit(m, 2);
  }
  assert.equal(weightsOf(loaded), weightsOf(straight));
  for (const m of [straight, loaded]) m.dispose();
  for (const o of [o1, loaded.optimizer]) o.dispose();
  tf.dispose([xs, ys]);
});

// ---------------------------------------------------------------- mismatches

test('saved state that does not fit the variables: clear errors, nothing changes', async () => {
  await tf.setBackend('cpu');
  const [xs, ys] = xy();
  const fit = (m) => m.fit(xs, ys, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
  const src = net();
  const srcOpt = optim.adam({ learningRate: 0.01 });
  src.compile({ optimizer: srcOpt, loss: 'meanSquaredError' });
  await fit(src);
  const saved = await srcOpt.getWeights();

  // Another model: no saved slot belongs to its variables.
  const other = seeded(tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [3] })] }), 5);
  const o = optim.adam({ learningRate: 0.01 });
  other.compile({ optimizer: o, loss: 'meanSquaredError' });
  await o.setWeights(saved);
  const before = weightsOf(other);
  await rejects(fit(other), /matches none of the variables being trained/);
  assert.equal(weightsOf(other), before, 'no step was taken');
  assert.is(o.core.variables.length, 0);

  // Same names, other shapes (a model rebuilt with another width under the same layer names).
  const wide = seeded(
    tfl.sequential({ layers: [tfl.layers.dense({ units: 9, inputShape: [3], name: 'wide_a' }), tfl.layers.dense({ units: 1, name: 'wide_b' })] }),
    6,
  );
  const o2 = optim.adam({ learningRate: 0.01 });
  wide.compile({ optimizer: o2, loss: 'meanSquaredError' });
  const rename = (n) => n.replace(src.layers[0].name, 'wide_a').replace(src.layers[1].name, 'wide_b');
  await o2.setWeights(saved.map(({ name, tensor }) => ({ name: rename(name), tensor })));
  await rejects(fit(wide), /with shape \[3,6\], but it is created with shape \[3,9\]/);
  assert.is(o2.core.variables.length, 0, 'the rolled-back restore left no slot behind');

  // Malformed weight lists.
  await rejects(o2.setWeights([]), TypeError);
  await rejects(o2.setWeights(saved.slice(1)), /iteration count/);
  await rejects(o2.setWeights([saved[0], saved[1], saved[1]]), /appears twice/);
  const gone = tf.zeros([2]);
  gone.dispose();
  await rejects(o2.setWeights([saved[0], { name: 'x/m', tensor: gone }]), /disposed/);
  for (const m of [src, other, wide]) m.dispose();
  tf.dispose([xs, ys]);
});

// ---------------------------------------------------------------- user subclasses

const examples = {
  signum: await importTs(readFileSync(repoFile('examples/custom-optimizers/signum.ts'), 'utf8'), 'tfjs-signum'),
  dampened: await importTs(readFileSync(repoFile('examples/custom-optimizers/dampened-momentum.ts'), 'utf8'), 'tfjs-dampened'),
};

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: the core's custom-optimizer examples become tfjs optimizers with one call (fromCore), train, save and load`, async () => {
    await tf.setBackend(backend);
    const [xs, ys] = xy(12);
    const cases = [
      [examples.signum.Signum, { learningRate: 0.01, beta: 0.8, clipnorm: 1 }],
      [examples.dampened.DampenedMomentum, { learningRate: 0.1, beta: 0.7 }], // uses kernels.* (SIMD primitives)
    ];
    for (const [Cls, options] of cases) {
      const model = net(13);
      const opt = optim.fromCore(new Cls(options));
      model.compile({ optimizer: opt, loss: 'meanSquaredError' });
      const h = await model.fit(xs, ys, { epochs: 15, batchSize: 4, shuffle: false, verbose: 0 });
      assert.ok(h.history.loss.at(-1) < h.history.loss[0], `${Cls.className} trains`);
      assert.is(opt.mode, backend === 'wasm' ? 'zero-copy' : 'cpu');
      // The same steps on core Variables, by hand, give the same weights.
      const ref = new Cls(options);
      const refModel = net(13);
      const vars = refModel.weights.map((w) => new core.Variable(w.read().dataSync().slice(), { name: w.read().name, shape: w.shape }));
      for (let e = 0; e < 15; e++) {
        for (let b = 0; b < 4; b++) {
          const x = tf.slice(xs, [4 * b, 0], [4, 3]);
          const y = tf.slice(ys, [4 * b, 0], [4, 1]);
          refModel.setWeights(vars.map((v) => tf.tensor(v.value.slice(), v.shape)));
          const { grads } = tf.variableGrads(() => tf.losses.meanSquaredError(y, refModel.apply(x)), refModel.trainableWeights.map((w) => w.read()));
          ref.applyGradients(refModel.weights.map((w, i) => [grads[w.read().name].dataSync().slice(), vars[i]]));
          tf.dispose([x, y, ...Object.values(grads)]);
        }
      }
      const maxDiff = Math.max(...weightsOf(model).flat().map((a, i) => Math.abs(a - vars.flatMap((v) => Array.from(v.value))[i])));
      assert.ok(maxDiff < 1e-5, `${Cls.className}: max |dw| ${maxDiff}`);
      const { loaded } = await saveLoad(model);
      assert.is(loaded.optimizer.getClassName(), `wasm-optim.${Cls.className}`);
      assert.ok(loaded.optimizer.core instanceof Cls);
      assert.equal(loaded.optimizer.core.getConfig(), opt.core.getConfig());
      await loaded.fit(xs, ys, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
      assert.is(loaded.optimizer.iterations, opt.iterations + 4);
      for (const m of [model, refModel, loaded]) m.dispose();
      opt.dispose();
      loaded.optimizer.dispose();
    }
    tf.dispose([xs, ys]);
  });
}

test('toTfjs / fromCore / factories refuse what they cannot serve', () => {
  class NoName extends core.Adam {}
  assert.throws(() => optim.toTfjs(NoName), /needs its own static className/);
  assert.throws(() => optim.toTfjs(class {}), /subclass of the wasm-optim Optimizer/);
  assert.throws(() => optim.adam(new core.SGD()), /expected Adam options, got a SGD optimizer/);
  assert.throws(() => new (optim.toTfjs(core.Adam))(new core.AdamW()), /use fromCore/);
  const used = new core.Adam();
  const v = new core.Variable([1, 2]);
  used.applyGradients([[new Float32Array([1, 1]), v]]);
  assert.throws(() => optim.fromCore(used), /wrap a fresh one/);
  const fresh = new core.SGD();
  optim.fromCore(fresh);
  assert.throws(() => optim.fromCore(fresh), /already wrapped/);
  assert.is(optim.toTfjs(core.Adam), optim.toTfjs(core.Adam), 'one class per core class');
  assert.ok(optim.adam() instanceof optim.TfjsOptimizer);
  assert.ok(!({ minimize() {}, computeGradients() {}, applyGradients() {} } instanceof optim.TfjsOptimizer), 'no duck-typed instanceof');
  assert.ok(optim.adam() instanceof tf.Optimizer, 'a tf.Optimizer for tfjs-layers');
});

test.run();
