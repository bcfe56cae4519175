// wasm-optim/tfjs hardening (issue #10): user code that runs during a step (a learning-rate
// schedule, a custom optimizer's hooks) cannot make the kernels write into memory the optimizer was
// not given; unknown options are refused on every path; the state of disposed variables is
// released; scalar variables. (tf.train's positional arguments: tfjs-factories.test.mjs.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as core from '../build/index.js';
import * as optim from '../build/tfjs/index.js';

import { tf } from './helpers/tfjs.mjs';

const values = (t) => Array.from(t.dataSync());

// ---------------------------------------------------------------- item 5: user code during a step

/** A custom optimizer running `hook` (user code) inside its update. */
let hook = null;
class Meddler extends core.Optimizer {
  static className = 'Meddler';
  updateStep(gradient, variable, lr) {
    hook?.();
    for (let i = 0; i < variable.size; i++) variable.value[i] -= lr * gradient[i];
  }
}
core.registerClass(Meddler);

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: a schedule that disposes a variable of the step (and allocates in its place): a clear error, nothing written`, async () => {
    await tf.setBackend(backend);
    const b = tf.backend();
    const N = 1 << 14; // large blocks are handed out again at once (small ones may wait in a free list)
    const w = tf.variable(tf.fill([N], 1));
    const u = tf.variable(tf.tensor([5, 6]));
    let armed = false;
    let junk = null;
    let reused = null;
    const opt = optim.sgd({
      learningRate: () => {
        if (armed) {
          armed = false;
          const at = backend === 'wasm' ? b.getMemoryOffset(w.dataId) : null;
          w.dispose();
          junk = tf.fill([N], 7); // gets w's block
          reused = at !== null && b.getMemoryOffset(junk.dataId) === at;
        }
        return 0.5;
      },
    });
    const g = tf.ones([N]);
    const gu = tf.ones([2]);
    opt.applyGradients({ [w.name]: g, [u.name]: gu });
    armed = true;
    const name = w.name;
    assert.throws(() => opt.applyGradients({ [name]: g, [u.name]: gu }), new RegExp(`variable '${name}' was disposed .*during the step`));
    assert.ok(values(junk).every((x) => x === 7), `the tensor allocated by the schedule is untouched (block reused: ${reused})`);
    assert.equal(values(u), [4.5, 5.5], 'no variable was updated');
    assert.is(opt.iterations, 1, 'the step was not counted');
    if (backend === 'wasm') assert.ok(reused, 'the test exercises a reused block');
    // The optimizer goes on with the variables that remain.
    opt.applyGradients({ [u.name]: gu });
    assert.equal(values(u), [4, 5]);
    tf.dispose([u, g, gu, junk]);
    opt.dispose();
  });

  test(`${backend}: a schedule that disposes a gradient, or moves and grows tfjs memory: a clear error, or the result of a plain schedule`, async () => {
    await tf.setBackend(backend);
    const run = (schedule) => {
      const w = tf.variable(tf.tensor([1, 2, 3, 4]), true, `w-${backend}`);
      const opt = optim.adam({ learningRate: schedule });
      for (let i = 0; i < 3; i++) {
        const g = tf.tensor([0.5, -1, 2, 0.25].map((x) => x * (i + 1)));
        opt.applyGradients({ [w.name]: g });
        g.dispose();
      }
      const out = values(w);
      w.dispose();
      opt.dispose();
      return out;
    };
    const plain = run((step) => 0.1 / (step + 1));
    let held = [];
    const busy = run((step) => {
      tf.dispose(held);
      held = [tf.fill([4], 9), tf.zeros([1 << 22])]; // 16 MiB: grows the wasm heap on the first call
      return 0.1 / (step + 1);
    });
    assert.equal(busy, plain, 'tensors made and freed by the schedule change nothing');
    tf.dispose(held);

    const w = tf.variable(tf.tensor([1, 2]));
    const keep = tf.variable(tf.tensor([3, 4]));
    const g = tf.ones([2]);
    const gk = tf.ones([2]);
    const opt = optim.sgd({ learningRate: () => (g.isDisposed ? 0.5 : (g.dispose(), tf.fill([2], 8), 0.5)) });
    assert.throws(() => opt.applyGradients({ [keep.name]: gk, [w.name]: g }), new RegExp(`the gradient for '${w.name}' was disposed .*during the step`));
    assert.equal(values(w), [1, 2]);
    assert.equal(values(keep), [3, 4]);
    assert.is(opt.iterations, 0);
    tf.dispose([w, keep, gk]);
    opt.dispose();
  });

  test(`${backend}: the schedule of a wrapper's inner optimizer runs before binding too, and every schedule is put back`, async () => {
    await tf.setBackend(backend);
    const w = tf.variable(tf.fill([1 << 14], 1));
    const name = w.name;
    let armed = false;
    let junk = null;
    const schedule = (step) => {
      if (armed) {
        armed = false;
        w.dispose();
        junk = tf.fill([1 << 14], 7);
      }
      return 0.1 / (step + 1);
    };
    const inner = new core.Adam({ learningRate: schedule });
    const opt = optim.lossScaleOptimizer(new core.Lookahead(inner, { syncPeriod: 2 }), { initialScale: 1 });
    const g = tf.ones([1 << 14]);
    opt.applyGradients({ [name]: g });
    assert.is(inner.learningRateSchedule, schedule, 'put back after a step');
    armed = true;
    assert.throws(() => opt.applyGradients({ [name]: g }), /was disposed \(or replaced\) during the step/);
    assert.is(inner.learningRateSchedule, schedule, 'put back after a refused step');
    assert.ok(values(junk).every((x) => x === 7));
    assert.is(opt.iterations, 1);
    // A schedule that throws: its error, nothing changed, the schedule stays.
    const bad = optim.adam({ learningRate: () => NaN });
    const v = tf.variable(tf.ones([2]));
    assert.throws(() => bad.applyGradients({ [v.name]: tf.ones([2]) }), /learning-rate schedule returned NaN/);
    assert.is(typeof bad.core.learningRateSchedule, 'function');
    assert.equal(values(v), [1, 1]);
    tf.dispose([g, junk, v]);
    opt.dispose();
    bad.dispose();
  });

  test(`${backend}: a custom optimizer whose updateStep disposes variables and allocates: no other tensor changes`, async () => {
    await tf.setBackend(backend);
    const a = tf.variable(tf.tensor([1, 2, 3, 4]));
    const c = tf.variable(tf.tensor([5, 6, 7, 8]));
    const opt = optim.fromCore(new Meddler({ learningRate: 1, useEma: true }));
    opt.applyGradients({ [a.name]: tf.ones([4]), [c.name]: tf.ones([4]) });
    const junk = [];
    hook = () => {
      hook = null;
      a.dispose(); // the step has begun: a's memory is the kernels' until it ends
      c.assign(tf.tensor([50, 60, 70, 80]));
      for (let i = 0; i < 4; i++) junk.push(tf.tensor([i, i, i, i]));
    };
    const name = a.name;
    opt.applyGradients({ [name]: tf.ones([4]), [c.name]: tf.ones([4]) });
    assert.equal(junk.map(values), [0, 1, 2, 3].map((i) => [i, i, i, i]), 'tensors allocated during the step are untouched');
    assert.equal(values(c), [50, 60, 70, 80], 'a value assigned during the step wins');
    assert.is(opt.iterations, 2);
    opt.applyGradients({ [c.name]: tf.ones([4]) });
    assert.ok(values(c).every(Number.isFinite));
    tf.dispose([c, ...junk]);
    opt.dispose();
  });
}

// ---------------------------------------------------------------- item 19: scalar variables

for (const [backend, zeroCopy, mode] of [['cpu', true, 'cpu'], ['wasm', true, 'zero-copy'], ['wasm', false, 'copy']]) {
  test(`${backend} (${mode}): scalar variables train, save and resume with shape [] slots`, async () => {
    await tf.setBackend(backend);
    const grads = [2, -1, 0.5, 3, -2, 1];
    const make = () => optim.adam({ learningRate: 0.1, useEma: true });
    optim.setZeroCopyEnabled(zeroCopy);
    try {
      const s = tf.variable(tf.scalar(2), true, `s-${mode}`);
      const straight = make();
      for (const g of grads) tf.tidy(() => straight.applyGradients({ [s.name]: tf.scalar(g) }));
      assert.is(straight.mode, mode);
      const expected = s.dataSync()[0];
      const weights = await straight.getWeights();
      const slots = weights.filter((w) => w.name.startsWith(`${s.name}/`));
      assert.equal(slots.map((w) => [w.name.slice(s.name.length), w.tensor.shape]).sort(), [['/average', []], ['/m', []], ['/v', []]]);

      // The same six steps in two halves, through getWeights / setWeights into a fresh optimizer.
      s.assign(tf.scalar(2));
      const first = make();
      for (const g of grads.slice(0, 3)) tf.tidy(() => first.applyGradients({ [s.name]: tf.scalar(g) }));
      const saved = (await first.getWeights()).map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
      const second = make();
      await second.setWeights(saved);
      for (const g of grads.slice(3)) tf.tidy(() => second.applyGradients({ [s.name]: tf.scalar(g) }));
      assert.is(s.dataSync()[0], expected, 'bit-identical resume');
      assert.equal(
        (await second.getWeights()).map((w) => [w.name, w.tensor.shape, Array.from(w.tensor.dataSync())]),
        (await straight.getWeights()).map((w) => [w.name, w.tensor.shape, Array.from(w.tensor.dataSync())]),
      );
      tf.dispose([s, ...saved.map((w) => w.tensor)]);
      for (const o of [straight, first, second]) o.dispose();
    } finally {
      optim.setZeroCopyEnabled(true);
    }
  });
}

test.run();
