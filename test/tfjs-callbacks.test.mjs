// optim.callbacks in real model.fit runs on the cpu and wasm backends: learningRateScheduler sets
// the rate at each epoch's start (Keras LearningRateScheduler), every callback adds `learning_rate`
// to the epoch logs (Keras 3's key) and so to model.fit's history, the callbacks also work after a
// tf.callbacks instance (tfjs-layers then calls setModel), and reduceLROnPlateau follows Keras'
// rule.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as core from '../build/index.js';
import * as optim from '../build/tfjs/index.js';
import { tf, tfl, quietly } from './helpers/tfjs.mjs';
import { fit, net, PLATEAU, plateauRun } from './helpers/fit-callbacks.mjs';

const BACKENDS = ['cpu', 'wasm'];

for (const backend of BACKENDS) {
  test(`${backend}: learningRateScheduler sets schedule(epoch, lr) at each epoch's start; learning_rate in the logs`, async () => {
    await quietly(() => tf.setBackend(backend));
    const model = net();
    const opt = optim.adam({ learningRate: 0.1 });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const calls = [];
    const schedule = (epoch, lr) => (calls.push([epoch, lr]), epoch < 2 ? lr : lr * 0.5);
    const seen = [];
    const { history, used } = await fit(model, opt, [optim.callbacks.learningRateScheduler(opt, schedule), { onEpochEnd: (e, logs) => seen.push(logs.learning_rate) }]);
    // the core keeps the learning rate in float32, as Keras' variable: schedule sees and logs show float32 values
    const f = Math.fround;
    const expected = [f(0.1), f(0.1), f(0.1) / 2, f(0.1) / 4, f(0.1) / 8];
    assert.equal(calls, [0, 1, 2, 3, 4].map((e) => [e, e === 0 ? f(0.1) : expected[e - 1]]));
    assert.equal(history.learning_rate, expected);
    assert.equal(seen, expected, 'later callbacks see it too');
    // two steps per epoch (32 samples, batch 16), each at its epoch's rate
    assert.equal(used, expected.flatMap((lr) => [lr, lr]));
    assert.is(opt.core.learningRate, expected[4]);
    assert.is(history.loss.length, 5);
    model.dispose();
    opt.dispose();
  });

  test(`${backend}: learningRateLogger adds the learning rate (a schedule's value at the epoch's end) to the history`, async () => {
    await quietly(() => tf.setBackend(backend));
    const model = net();
    const schedule = (step) => 0.05 / (1 + step); // a function of the step: the logged value is the next update's
    const opt = optim.sgd({ learningRate: schedule });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const { history } = await fit(model, opt, optim.callbacks.learningRateLogger(opt), { epochs: 3, validation: false });
    assert.equal(history.learning_rate, [2, 4, 6].map((s) => opt.core.learningRateSchedule(s)).map((v) => Math.fround(v)));
    assert.equal(Object.keys(history).sort(), ['learning_rate', 'loss']);
    model.dispose();
    opt.dispose();
  });

  test(`${backend}: after a tf.callbacks instance (not wrapped: setModel checks the model's optimizer)`, async () => {
    await quietly(() => tf.setBackend(backend));
    const model = net();
    const opt = optim.sgd({ learningRate: 0.1 });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const early = tfl.callbacks.earlyStopping({ monitor: 'val_loss', patience: 100 });
    const { history } = await fit(model, opt, [early, optim.callbacks.learningRateScheduler(opt, (e) => 0.1 / (e + 1))], { epochs: 3 });
    assert.equal(history.learning_rate, [0.1, 0.05, 0.1 / 3].map(Math.fround));
    const other = optim.sgd({ learningRate: 0.1 });
    try {
      await fit(model, opt, [tfl.callbacks.earlyStopping({ patience: 100 }), optim.callbacks.learningRateLogger(other)], { epochs: 1 });
      assert.unreachable('a callback bound to another optimizer');
    } catch (e) {
      assert.match(e.message, 'callbacks.learningRateLogger: the model trains with another optimizer wasm-optim.SGD, not with the optimizer this callback was made for (wasm-optim.SGD)');
    }
    model.dispose();
    opt.dispose();
    other.dispose();
  });
}

test('learningRateScheduler: the schedule runs at each epoch of a resumed fit (initialEpoch) with the epoch index', async () => {
  await tf.setBackend('cpu');
  const model = net();
  const opt = optim.sgd({ learningRate: 1 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const { history } = await fit(model, opt, optim.callbacks.learningRateScheduler(opt, (e) => 0.01 * e), { epochs: 4, initialEpoch: 2 });
  assert.equal(history.learning_rate, [0.02, 0.03].map(Math.fround));
  model.dispose();
  opt.dispose();
});

/** Keras 3's ReduceLROnPlateau.on_epoch_end (mode 'min'), in float64 with the rate kept in float32. */
function kerasPlateau(values, lr0, { factor = 0.1, patience = 10, minDelta = 1e-4, cooldown = 0, minLr = 0 } = {}) {
  let best = Infinity;
  let wait = 0;
  let cooling = 0;
  let lr = Math.fround(lr0);
  return values.map((v) => {
    if (cooling > 0) {
      cooling--;
      wait = 0;
    }
    if (v < best - minDelta) {
      best = v;
      wait = 0;
    } else if (cooling === 0) {
      wait++;
      if (wait >= patience) {
        if (lr > Math.fround(minLr)) lr = Math.fround(Math.max(lr * factor, minLr));
        cooling = cooldown;
        wait = 0;
      }
    }
    return lr;
  });
}

for (const backend of BACKENDS) {
  test(`${backend}: reduceLROnPlateau follows Keras' rule on val_loss`, async () => {
    await quietly(() => tf.setBackend(backend));
    const runA = await plateauRun();
    const expected = kerasPlateau(runA.history.val_loss, 0.05, PLATEAU);
    assert.equal(runA.history.learning_rate, expected);
    const reductions = new Set(expected).size - 1;
    assert.ok(reductions >= 2, `the run reduces the rate at least twice (got ${expected})`);
    // each epoch's steps used the rate logged at the end of the previous epoch
    assert.equal(runA.used, [Math.fround(0.05), ...expected.slice(0, -1)].flatMap((lr) => [lr, lr]));
  });
}

test('reduceLROnPlateau: a missing metric warns once and leaves the rate; mode max on an accuracy-like metric', async () => {
  await tf.setBackend('cpu');
  const model = net();
  const opt = optim.sgd({ learningRate: 0.1 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const warnings = [];
  const warn = console.warn;
  console.warn = (...a) => warnings.push(a.join(' '));
  try {
    const { history } = await fit(model, opt, optim.callbacks.reduceLROnPlateau(opt, { patience: 0 }), { epochs: 3, validation: false });
    assert.equal(history.learning_rate, [0.1, 0.1, 0.1].map(Math.fround));
  } finally {
    console.warn = warn;
  }
  assert.equal(warnings, ['callbacks.reduceLROnPlateau: learning rate reduction is conditioned on metric `val_loss` which is not available. Available metrics are: loss']);
  // 'auto' picks max for a name containing 'acc': a falling value is no improvement
  const fresh = optim.sgd({ learningRate: 0.1 }); // a plateau on `opt` would continue the one above
  const cb = optim.callbacks.reduceLROnPlateau(fresh, { monitor: 'val_acc', patience: 1, factor: 0.5 });
  const logs = [{ val_acc: 0.5 }, { val_acc: 0.4 }, { val_acc: 0.6 }, { val_acc: 0.6 }];
  for (const [e, l] of logs.entries()) await cb.onEpochEnd(e, l);
  assert.equal(logs.map((l) => l.learning_rate), [0.1, 0.05, 0.05, 0.025].map(Math.fround));
  // a second plateau made for the same optimizer continues the progress kept in it
  const again = optim.callbacks.reduceLROnPlateau(fresh, { monitor: 'val_acc', patience: 1, factor: 0.5 });
  assert.equal(again.plateau.state, cb.plateau.state);
  assert.equal(again.plateau.state.best, 0.6);
  model.dispose();
  opt.dispose();
  fresh.dispose();
});

test('learningRateScheduler on a wrapper (lookahead, swa, lossScaleOptimizer) sets the inner optimizer\'s rate', async () => {
  await tf.setBackend('cpu');
  for (const wrap of ['lookahead', 'swa', 'lossScaleOptimizer']) {
    const model = net();
    const inner = new core.Adam({ learningRate: 0.1 });
    const opt = optim[wrap](inner);
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const { history } = await fit(model, opt, optim.callbacks.learningRateScheduler(opt, (e) => 0.1 / 2 ** e), { epochs: 3 });
    assert.equal(history.learning_rate, [0.1, 0.05, 0.025].map(Math.fround), wrap);
    assert.is(inner.learningRate, Math.fround(0.025), wrap);
    model.dispose();
    opt.dispose();
  }
});

test.run();
