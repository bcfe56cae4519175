// wasm-optim/tfjs factories (issue #10 item 20): every factory named like a tf.train.* one takes
// tf.train's positional arguments with their meaning (the same optimizer as the options form, and
// tf.train's results), refuses what has no equivalent, `train` has exactly the factories, and an
// uncalled factory where an optimizer is expected gets a hint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as core from '../build/index.js';
import * as optim from '../build/tfjs/index.js';

import { tf, tfl } from './helpers/tfjs.mjs';

const values = (t) => Array.from(t.dataSync());

// [factory, tf.train's arguments, the options they mean, tf.train's optimizer]
const FORMS = [
  ['sgd', [0.1], { learningRate: 0.1 }],
  ['momentum', [0.1, 0.9], { learningRate: 0.1, momentum: 0.9 }],
  ['momentum', [0.1, 0.9, true], { learningRate: 0.1, momentum: 0.9, nesterov: true }],
  ['momentum', [0.1, 0.9, false], { learningRate: 0.1, momentum: 0.9, nesterov: false }],
  ['rmsprop', [0.01], { learningRate: 0.01 }],
  ['rmsprop', [0.01, 0.8, 0.5, 1e-6, true], { learningRate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-6, centered: true }],
  ['rmsprop', [0.01, undefined, undefined, null, false], { learningRate: 0.01, rho: 0.9, momentum: 0, centered: false }],
  ['adam', [0.01], { learningRate: 0.01 }],
  ['adam', [0.01, 0.8, 0.99, 1e-6], { learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 }],
  ['adam', [undefined, 0.8], { learningRate: 0.001, beta1: 0.8 }],
  ['adamax', [0.01], { learningRate: 0.01 }],
  ['adamax', [0.01, 0.8, 0.99, 1e-6, 0], { learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 }],
  ['adamax', [undefined, 0.8], { learningRate: 0.002, beta1: 0.8 }], // tf.train.adamax's default rate
  ['adagrad', [0.1], { learningRate: 0.1 }],
  ['adagrad', [0.1, 0.5], { learningRate: 0.1, initialAccumulatorValue: 0.5 }],
  ['adadelta', [1], { learningRate: 1 }],
  ['adadelta', [1, 0.9, 1e-6], { learningRate: 1, rho: 0.9, epsilon: 1e-6 }],
  ['adadelta', [undefined, 0.9], { learningRate: 0.001, rho: 0.9 }],
];

/** Adadelta in float64 from w0 = [1, -2, 0.5, 3]: Keras' order, or tfjs' (the accumulator read before its update). */
function adadelta64(grads, lr, rho, eps, tfjsOrder) {
  const w = [1, -2, 0.5, 3];
  const ag = [0, 0, 0, 0];
  const au = [0, 0, 0, 0];
  for (const g of grads) {
    for (let i = 0; i < 4; i++) {
      const agNew = rho * ag[i] + (1 - rho) * g[i] * g[i];
      const u = (Math.sqrt(au[i] + eps) / Math.sqrt((tfjsOrder ? ag[i] : agNew) + eps)) * g[i];
      ag[i] = agNew;
      au[i] = rho * au[i] + (1 - rho) * u * u;
      w[i] -= lr * u;
    }
  }
  return w;
}

test('every tf.train factory takes tf.train\'s positional arguments: the same optimizer as the options form, and tf.train\'s results', async () => {
  await tf.setBackend('cpu');
  const grads = [[0.5, -1, 2, 0.25], [1, 1, -0.5, 0], [-2, 0.125, 1, 3], [0.5, 0.5, 0.5, -0.5], [1, -1, 1, -1]];
  const run = (opt) => {
    const w = tf.variable(tf.tensor([1, -2, 0.5, 3]));
    for (const g of grads) tf.tidy(() => opt.applyGradients({ [w.name]: tf.tensor(g) }));
    const out = values(w);
    w.dispose();
    opt.dispose();
    return out;
  };
  const seen = new Set();
  for (const [name, args, options] of FORMS) {
    seen.add(name);
    const label = `${name}(${args.map(String).join(', ')})`;
    const pos = optim[name](...args);
    assert.ok(pos instanceof optim.TfjsOptimizer, label);
    assert.is(optim.train[name], optim[name]);
    const opts = optim[name](options);
    assert.equal(pos.core.getConfig(), opts.core.getConfig(), `${label}: the options it means`);
    const theirs = run(tf.train[name](...args));
    const ours = run(pos);
    assert.equal(ours, run(opts), `${label}: bit-identical to the options form`);
    const gap = (a, b) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    if (name === 'adadelta') {
      // tf.train.adadelta divides by the gradient accumulator before updating it, Keras after: the
      // arguments mean the same, the algorithms differ. Each matches its own float64 form.
      const lr = args[0] ?? 0.001;
      const [rho, eps] = [options.rho ?? 0.95, options.epsilon ?? 1e-7];
      assert.ok(gap(ours, adadelta64(grads, lr, rho, eps, false)) < 1e-5, `${label}: ours vs Keras' form`);
      assert.ok(gap(theirs, adadelta64(grads, lr, rho, eps, true)) < 1e-5, `${label}: tf.train vs its own form`);
    } else {
      // Same meaning as tf.train's (float32 rounding; Adam adds epsilon at another place, see docs/tfjs.md).
      assert.ok(gap(ours, theirs) < 2e-5, `${label}: max |ours - tf.train| = ${gap(ours, theirs)}`);
    }
  }
  assert.equal([...seen].sort(), Object.keys(tf.train).sort(), 'every tf.train factory is covered');
});

test('positional forms: what tf.train requires, too many arguments and arguments without equivalent are refused clearly', () => {
  assert.throws(() => optim.momentum(0.1), (e) => e instanceof TypeError && e.message.includes('momentum(learningRate, momentum, useNesterov?): momentum is required, as in tf.train.momentum'));
  assert.throws(() => optim.rmsprop(undefined, 0.9), (e) => e instanceof TypeError && /rmsprop\(learningRate, decay\?.*\): learningRate is required/.test(e.message));
  assert.throws(() => optim.adam(0.1, 0.9, 0.999, 1e-7, 0), (e) => e instanceof TypeError && e.message.includes('tf.train\'s form takes at most 4 arguments, got 5'));
  assert.throws(() => optim.sgd(0.1, 0.9), (e) => e instanceof TypeError && e.message.includes('sgd(learningRate): tf.train\'s form takes at most 1 argument, got 2'));
  assert.throws(() => optim.adamax(0.1, 0.9, 0.999, null, 0.01), (e) => e instanceof RangeError && /decay has no equivalent .* got 0\.01\. For a decaying learning rate pass a schedule/.test(e.message));
  // The core checks the values it is given, naming its option.
  assert.throws(() => optim.adam(0.1, 2), /Adam: beta1 must be/);
  assert.throws(() => optim.momentum(0.1, 0.9, 'yes'), /SGD: nesterov must be a boolean/);
});

test('train has exactly the factories: one per optimizer class the package exports, plus momentum', () => {
  const classes = Object.values(core).filter((x) => typeof x === 'function' && x.prototype instanceof core.Optimizer && Object.hasOwn(x, 'className') && core.getRegisteredClass(x.className) === x);
  assert.ok(classes.length >= 18, `${classes.length} classes`);
  const covered = new Set(Object.values(optim.train).map((f) => f.tfjsClass.coreClass));
  for (const C of classes) assert.ok(covered.has(C), `no factory for ${C.className}`);
  assert.is(Object.keys(optim.train).length, classes.length + 1);
  assert.is(optim.train.AdamW, undefined);
  assert.ok(Object.isFrozen(optim.train));
  assert.is(optim.momentum.tfjsClass, optim.sgd.tfjsClass);
});

test('an uncalled factory where an optimizer is expected gets a hint (model.compile, minimize)', async () => {
  await tf.setBackend('cpu');
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
  assert.throws(() => model.compile({ optimizer: optim.adam, loss: 'meanSquaredError' }), (e) => e instanceof TypeError && e.message === 'wasm-optim/tfjs: adam is an optimizer factory, not an optimizer; call it: optim.adam() or optim.adam(0.01)');
  assert.throws(() => model.compile({ optimizer: optim.train.lazyAdam, loss: 'meanSquaredError' }), /call it: optim.lazyAdam\(\) or optim.lazyAdam\(\{ learningRate: 0.01 \}\)/);
  assert.throws(() => model.compile({ optimizer: optim.lookahead, loss: 'meanSquaredError' }), /call it: optim.lookahead\(innerOptimizer, options\?\)/);
  assert.throws(() => optim.sgd.minimize(() => tf.scalar(1)), /sgd is an optimizer factory/);
  model.compile({ optimizer: optim.adam(0.01), loss: 'meanSquaredError' }); // called: fine
  model.dispose();
});

test.run();
