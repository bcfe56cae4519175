// wasm-optim/tfjs: bad input gets clear errors and changes nothing; shared data is copied, not
// written in place; the optimizer stays with its backend; the kernel module is safe to instantiate
// in tfjs' heap; and Keras-default Adam against tf.train.adam (the epsilon placement), measured.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import * as optim from '../build/tfjs/index.js';
import { repoFile } from './helpers/load-ts.mjs';
import { rng } from './helpers/random.mjs';

import { tf, tfl, quietly } from './helpers/tfjs.mjs';

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: bad input gets a clear error and changes nothing`, async () => {
    await tf.setBackend(backend);
    const w = tf.variable(tf.tensor([1, 2, 3, 4], [2, 2]));
    const b = tf.variable(tf.tensor([0.5, -0.5]));
    const opt = optim.adam({ learningRate: 0.1 });
    opt.applyGradients({ [w.name]: tf.ones([2, 2]), [b.name]: tf.ones([2]) });
    const snapshot = async () => [Array.from(w.dataSync()), Array.from(b.dataSync()), opt.iterations, (await opt.getWeights()).map((x) => Array.from(x.tensor.dataSync()))];
    const before = await snapshot();
    const ints = tf.variable(tf.tensor([1, 2], [2], 'int32'));
    const gone = tf.ones([2]);
    gone.dispose();
    const cases = [
      [() => opt.applyGradients({ [ints.name]: tf.ones([2]) }), TypeError, /has dtype int32; only float32 variables/],
      [() => opt.applyGradients({ [w.name]: tf.ones([4]) }), RangeError, /gradient for '.*' has shape \[4\], the variable \[2,2\]/],
      [() => opt.applyGradients({ [w.name]: tf.ones([2, 2], 'int32') }), TypeError, /has dtype int32, expected float32/],
      [() => opt.applyGradients({ [w.name]: tf.ones([2, 2]), [b.name]: gone }), Error, /was already disposed/],
      [() => opt.applyGradients([{ name: 'no-such-variable', tensor: tf.ones([2]) }]), Error, /no live tf.Variable named 'no-such-variable'/],
      [() => opt.applyGradients([{ name: w.name, tensor: tf.ones([2, 2]) }, { name: w.name, tensor: tf.ones([2, 2]) }]), Error, /appears twice/],
      [() => opt.applyGradients({ [w.name]: [1, 2, 3, 4] }), TypeError, /must be a tf.Tensor or null/],
      [() => opt.applyGradients(42), TypeError, /expected a \{ \[variableName\]: gradient \} map/],
      [() => opt.applyGradients([null]), TypeError, /element 0 must be a \{ name, tensor \} object/],
    ];
    for (const [fn, type, message] of cases) {
      // The call's error is caught alone: an assertion failing below must fail the test.
      let error = null;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      assert.ok(error !== null, `expected ${message}, got no error`);
      assert.instance(error, type);
      assert.match(error.message, message);
      assert.equal(await snapshot(), before);
    }
    // A disposed variable is gone from tfjs' registry.
    const tmp = tf.variable(tf.zeros([2]));
    const name = tmp.name;
    tmp.dispose();
    assert.throws(() => opt.applyGradients({ [name]: tf.ones([2]) }), /no live tf.Variable .* \(was it disposed\?\)/);
    // Null gradients are skipped; all-null is a no-op (the counter stays).
    opt.applyGradients({ [w.name]: null, [b.name]: tf.ones([2]) });
    assert.equal(Array.from(w.dataSync()), before[0]);
    assert.is(opt.iterations, 2);
    opt.applyGradients([{ name: w.name, tensor: null }]);
    assert.is(opt.iterations, 2);
    opt.dispose();
    assert.throws(() => opt.applyGradients({ [w.name]: tf.ones([2, 2]) }), /was disposed/);
    tf.dispose([w, b, ints]);
  });

  test(`${backend}: a variable whose data is shared is copied, not written in place`, async () => {
    await tf.setBackend(backend);
    const t = tf.tensor([1, 2, 3]);
    const v = tf.variable(t); // shares t's data (refCount 2)
    const alias = tf.reshape(v, [3, 1]); // shares it too
    const opt = optim.sgd({ learningRate: 1 });
    opt.applyGradients({ [v.name]: tf.tensor([1, 1, 1]) });
    assert.equal(Array.from(v.dataSync()), [0, 1, 2]);
    assert.equal(Array.from(t.dataSync()), [1, 2, 3], 'the tensor it was made from is untouched');
    assert.equal(Array.from(alias.dataSync()), [1, 2, 3]);
    opt.applyGradients({ [v.name]: tf.tensor([1, 1, 1]) });
    assert.equal(Array.from(v.dataSync()), [-1, 0, 1]);
    tf.dispose([t, v, alias]);
    opt.dispose();
  });

  test(`${backend}: scalar variables, and variables whose data tfjs moved (assign) between steps`, async () => {
    await tf.setBackend(backend);
    const s = tf.variable(tf.scalar(2));
    const v = tf.variable(tf.tensor([1, 1]));
    const opt = optim.sgd({ learningRate: 0.5, momentum: 0.5 });
    opt.applyGradients({ [s.name]: tf.scalar(2), [v.name]: tf.tensor([2, -2]) });
    v.assign(tf.tensor([10, 10])); // new data at a new offset
    opt.applyGradients({ [s.name]: tf.scalar(2), [v.name]: tf.tensor([2, -2]) });
    // Keras SGD with momentum: m = 0.5 * m - 0.5 * g; w += m (m = -1 then -1.5 for the scalar)
    assert.is(s.dataSync()[0], 2 - 1 - 1.5);
    assert.equal(Array.from(v.dataSync()), [10 - 1.5, 10 + 1.5]);
    tf.dispose([s, v]);
    opt.dispose();
  });
}

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: steps the core skips (skipNonFinite, LossScaleOptimizer overflow) are not counted`, async () => {
    await tf.setBackend(backend);
    const v = tf.variable(tf.tensor([1, 2]));
    const bad = tf.tensor([1, Infinity]);
    const good = tf.tensor([1, 1]);
    const skip = optim.sgd({ learningRate: 0.5, skipNonFinite: true });
    skip.applyGradients({ [v.name]: good });
    skip.applyGradients({ [v.name]: bad });
    assert.is(skip.iterations, 1);
    assert.is(skip.core.nonFiniteSkips, 1);
    assert.equal(Array.from(v.dataSync()), [0.5, 1.5]);
    const lso = optim.train.lossScaleOptimizer(new (optim.sgd.tfjsClass.coreClass)({ learningRate: 0.5, gradientAccumulationSteps: 2 }), { initialScale: 4 });
    lso.applyGradients({ [v.name]: tf.mul(good, 4) });
    lso.applyGradients({ [v.name]: bad });
    assert.is(lso.iterations, 1, 'raw calls of the inner optimizer (accumulating)');
    assert.is(lso.core.dynamicScale, 2);
    lso.applyGradients({ [v.name]: tf.mul(good, 2) });
    assert.is(lso.iterations, 2);
    assert.equal(Array.from(v.dataSync()), [0, 1], 'one real update with the mean of two unscaled gradients');
    assert.is((await lso.getWeights())[0].tensor.dataSync()[0], 2);
    tf.dispose([v, bad, good]);
    skip.dispose();
    lso.dispose();
  });
}

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: under EMA a disposed variable is released (its freed memory is never written); a new variable under its name starts fresh`, async () => {
    await tf.setBackend(backend);
    const b = tf.backend();
    const N = 1 << 14; // a large block: the heap hands it out again at once
    const x = tf.variable(tf.ones([3]));
    const y = tf.variable(tf.fill([N], 4));
    const yName = y.name;
    const opt = optim.sgd({ learningRate: 0.1, useEma: true, emaOverwriteFrequency: 2 });
    opt.applyGradients({ [x.name]: tf.ones([3]), [yName]: tf.ones([N]) });
    const freed = backend === 'wasm' ? b.getMemoryOffset(y.dataId) : null;
    y.dispose();
    const junk = tf.fill([N], 7);
    const reused = backend === 'wasm' ? b.getMemoryOffset(junk.dataId) === freed : null;
    for (let i = 0; i < 5; i++) opt.applyGradients({ [x.name]: tf.ones([3]) }); // EMA overwrite touches every known variable
    assert.ok(junk.dataSync().every((v) => v === 7), `untouched (block reused: ${reused})`);
    if (backend === 'wasm') assert.ok(reused, 'the test exercises a reused block');
    assert.is(opt.core.variables.length, 1, 'the disposed variable\'s average is freed');
    const y2 = tf.variable(tf.zeros([2]), true, yName); // another shape under the old name
    opt.applyGradients({ [x.name]: tf.ones([3]), [yName]: tf.ones([2]) });
    assert.is(opt.core.variables.length, 2, 'one EMA average per live variable');
    assert.equal(Array.from(y2.dataSync()), [Math.fround(-0.1), Math.fround(-0.1)], 'fresh state: the first step of y2');
    assert.ok(opt.core.saveState() instanceof Uint8Array, 'the state saves (one set of slots per name)');
    tf.dispose([x, y2, junk]);
    opt.dispose();
  });
}

test('the optimizer stays with the backend that holds its state', async () => {
  await tf.setBackend('wasm');
  const v = tf.variable(tf.tensor([1, 2]));
  const opt = optim.adam();
  opt.applyGradients({ [v.name]: tf.tensor([1, 1]) });
  await tf.setBackend('cpu');
  assert.throws(() => opt.applyGradients({ [v.name]: tf.tensor([1, 1]) }), /lives with the 'wasm' backend and tfjs now runs on 'cpu'.*getWeights\(\) \/ setWeights\(\)/);
  // The documented move: state out, state in.
  const moved = optim.adam();
  await moved.setWeights(await opt.getWeights());
  moved.applyGradients({ [v.name]: tf.tensor([1, 1]) });
  assert.is(moved.iterations, 2);
  assert.is(moved.mode, 'cpu');
  tf.dispose(v);
  opt.dispose();
  moved.dispose();
});

test('optim.wasm has no data segment and no start function (instantiating it in tfjs\' heap writes nothing)', () => {
  const bytes = readFileSync(repoFile('build', 'optim.wasm'));
  const sections = new Set();
  let p = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++];
      result |= (b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80)) return result >>> 0;
    }
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    sections.add(id);
    p += size;
  }
  assert.ok(!sections.has(11), 'no data section');
  assert.ok(!sections.has(8), 'no start section');
  const mod = new WebAssembly.Module(bytes);
  assert.equal(WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`), ['env.memory:memory']);
});

test('the core entry never imports tfjs (it is a peer dependency of wasm-optim/tfjs only)', () => {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const [, spec] of src.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      assert.ok(!spec.includes('@tensorflow'), `${file} imports ${spec}`);
      if (spec.startsWith('.')) visit(new URL(spec, `file://${file}`).pathname);
    }
  };
  visit(repoFile('build', 'index.js'));
  assert.ok(seen.size > 10, `walked ${seen.size} modules`);
  assert.ok(![...seen].some((f) => f.includes('/tfjs/')));
});

// ---------------------------------------------------------------- Adam vs tf.train.adam

/** Both Adam forms in float64: Keras adds epsilon to sqrt(v) before the bias correction, tfjs after it. */
function adam64(w0, grads, lr, b1, b2, eps, tfjsForm) {
  const w = Float64Array.from(w0);
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  grads.forEach((g, k) => {
    const t = k + 1;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let i = 0; i < w.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      w[i] -= tfjsForm ? (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps) : ((lr * Math.sqrt(c2)) / c1) * (m[i] / (Math.sqrt(v[i]) + eps));
    }
  });
  return w;
}

const maxAbs = (a, b) => a.reduce((mx, x, i) => Math.max(mx, Math.abs(x - b[i])), 0);
const meanAbs = (a, b) => a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0) / a.length;

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: Keras-default Adam vs tf.train.adam on the same gradients: the gap is the epsilon placement`, async () => {
    await tf.setBackend(backend);
    const r = rng(31);
    const n = 4096;
    const steps = 20;
    const lr = 1e-3;
    const w0 = r.f32(n, 0.5);
    const rows = [];
    for (const scale of [1e-2, 1e-6]) {
      const grads = Array.from({ length: steps }, () => r.f32(n, scale));
      const a = tf.variable(tf.tensor(w0));
      const b = tf.variable(tf.tensor(w0));
      const ours = optim.adam({ learningRate: lr }); // Keras defaults: beta1 0.9, beta2 0.999, epsilon 1e-7
      const theirs = tf.train.adam(lr, 0.9, 0.999, 1e-7);
      for (const g of grads) {
        const gt = tf.tensor(g);
        ours.applyGradients({ [a.name]: gt });
        theirs.applyGradients({ [b.name]: gt });
        gt.dispose();
      }
      const keras = adam64(w0, grads, lr, 0.9, 0.999, 1e-7, false);
      const tfjs = adam64(w0, grads, lr, 0.9, 0.999, 1e-7, true);
      const row = {
        scale,
        measured: maxAbs(a.dataSync(), b.dataSync()),
        measuredMean: meanAbs(a.dataSync(), b.dataSync()),
        predicted: maxAbs(keras, tfjs),
        predictedMean: meanAbs(keras, tfjs),
        moved: meanAbs(w0, keras),
        oursVsKeras: maxAbs(a.dataSync(), keras),
        theirsVsTfjs: maxAbs(b.dataSync(), tfjs),
      };
      rows.push(row);
      // Each follows its own formula up to float32 rounding; the gap between them is the formulas' gap.
      assert.ok(row.oursVsKeras < 2e-6 && row.theirsVsTfjs < 2e-6, JSON.stringify(row));
      assert.ok(Math.abs(row.measured - row.predicted) <= 2e-6 + 0.02 * row.predicted, JSON.stringify(row));
      assert.ok(Math.abs(row.measuredMean - row.predictedMean) <= 1e-7 + 0.02 * row.predictedMean, JSON.stringify(row));
      tf.dispose([a, b]);
      ours.dispose();
      theirs.dispose();
    }
    // Ordinary gradients: the placement moves weights by ~0.05% of their movement (its max is on the
    // rare elements whose gradient is near 0); gradients of epsilon's size: it is the whole movement.
    assert.ok(rows[0].measuredMean < 1e-3 * rows[0].moved, JSON.stringify(rows[0]));
    assert.ok(rows[1].measuredMean > 0.5 * rows[1].moved, JSON.stringify(rows[1]));
  });
}

test('model.fit: Keras-default Adam tracks tf.train.adam on the same model (measured)', async () => {
  await tf.setBackend('wasm');
  const r = rng(41);
  const x = r.f32(64 * 4);
  const xs = tf.tensor(x, [64, 4]);
  const ys = tf.tensor(new Float32Array(64).map((_, i) => Math.tanh(x[4 * i] - x[4 * i + 2]) + 0.3 * x[4 * i + 1]), [64, 1]);
  const init = [r.f32(32, 0.4), r.f32(8, 0.1), r.f32(8, 0.4), r.f32(1, 0.1)];
  const train = async (opt) => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 8, inputShape: [4], activation: 'tanh' }), tfl.layers.dense({ units: 1 })] });
    model.setWeights(init.map((v, i) => tf.tensor(v, model.getWeights()[i].shape)));
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const h = await model.fit(xs, ys, { epochs: 30, batchSize: 16, shuffle: false, verbose: 0 });
    const w = model.getWeights().flatMap((t) => Array.from(t.dataSync()));
    model.dispose();
    return { loss: h.history.loss.at(-1), w };
  };
  const ours = await train(optim.adam({ learningRate: 1e-2 }));
  const theirs = await train(tf.train.adam(1e-2, 0.9, 0.999, 1e-7));
  const dw = maxAbs(ours.w, theirs.w);
  const dloss = Math.abs(ours.loss - theirs.loss) / theirs.loss;
  assert.ok(dw < 1e-3 && dloss < 1e-2, `max|dw| ${dw}, relative loss gap ${dloss}`);
  tf.dispose([xs, ys]);
});

test.run();
