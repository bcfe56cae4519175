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
/** A custom optimizer running `buildHook` (user code) when it builds slots: after binding, before the update. */
let buildHook = null;
class Builder extends core.Optimizer {
  static className = 'Builder';
  build(variables) {
    for (const v of variables) this.addVariableFromReference(v, 'm');
    buildHook?.();
  }
  updateStep(gradient, variable, lr) {
    for (let i = 0; i < variable.size; i++) variable.value[i] -= lr * gradient[i];
  }
}
core.registerClass(Builder);

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

  test(`${backend}: a schedule, a getter or a hook that calls the optimizer back is refused; nothing changes`, async () => {
    await tf.setBackend(backend);
    const w = tf.variable(tf.tensor([1, 2]));
    const g = tf.ones([2]);
    let call = null;
    const opt = optim.sgd({ learningRate: () => (call?.(), 0.5), useEma: true });
    opt.applyGradients({ [w.name]: g });
    const calls = {
      applyGradients: () => opt.applyGradients({ [w.name]: g }),
      finalizeVariableValues: () => opt.finalizeVariableValues(),
      dispose: () => opt.dispose(),
    };
    for (const [what, fn] of Object.entries(calls)) {
      call = fn;
      let error = null;
      try {
        opt.applyGradients({ [w.name]: g });
      } catch (e) {
        error = e;
      }
      call = null;
      assert.ok(error, `${what}: refused`);
      assert.ok(error.message.startsWith(`wasm-optim.SGD.${what}: called from inside applyGradients (a learning-rate schedule`), error.message);
      assert.equal(values(w), [0.5, 1.5], `${what}: nothing changed`);
      assert.is(opt.iterations, 1);
    }
    // getWeights and setWeights are async: the promise they return from inside the step rejects.
    let pending = [];
    call = () => (pending = [opt.getWeights(), opt.setWeights([])]);
    opt.applyGradients({ [w.name]: g });
    call = null;
    for (const [what, p] of [['getWeights', pending[0]], ['setWeights', pending[1]]]) {
      const error = await p.then(() => null, (e) => e);
      assert.ok(error?.message.startsWith(`wasm-optim.SGD.${what}: called from inside applyGradients`), String(error));
    }
    assert.is(opt.iterations, 2);
    // A getter of the argument, and a hook of a custom optimizer.
    const map = { get [w.name]() { return opt.applyGradients({ [w.name]: g }), g; } };
    assert.throws(() => opt.applyGradients(map), /applyGradients: called from inside applyGradients/);
    const meddler = optim.fromCore(new Meddler({ learningRate: 1 }));
    hook = () => meddler.dispose();
    assert.throws(() => meddler.applyGradients({ [w.name]: g }), /dispose: called from inside applyGradients/);
    hook = null;
    opt.applyGradients({ [w.name]: g }); // still usable
    assert.is(opt.iterations, 3);
    tf.dispose([w, g]);
    opt.dispose();
    meddler.dispose();
  });

  test(`${backend}: a custom optimizer whose build() disposes a variable and a gradient of the step: their data stays the step's`, async () => {
    await tf.setBackend(backend);
    const N = 1 << 14;
    const before = tf.memory();
    const own = (x) => tf.tidy(() => tf.variable(tf.fill([N], x))); // tidy frees the tensor it was made from
    const a = own(1);
    const c = own(2);
    const ga = tf.fill([N], 0.5);
    const gc = tf.fill([N], 0.25);
    const junk = [];
    buildHook = () => {
      buildHook = null;
      a.dispose();
      gc.dispose(); // c's gradient: still read by this step
      for (let i = 0; i < 3; i++) junk.push(tf.fill([N], 7));
    };
    const opt = optim.fromCore(new Builder({ learningRate: 1 }));
    opt.applyGradients({ [a.name]: ga, [c.name]: gc });
    assert.ok(junk.every((t) => values(t).every((x) => x === 7)), 'tensors allocated by the hook are untouched');
    assert.ok(values(c).every((x) => x === 1.75), 'c updated with its gradient');
    assert.is(opt.iterations, 1);
    opt.applyGradients({ [c.name]: ga });
    assert.ok(values(c).every((x) => x === 1.25));
    tf.dispose([c, ga, ...junk]);
    opt.dispose();
    const after = tf.memory();
    assert.equal([after.numTensors, after.numDataBuffers, after.numBytes], [before.numTensors, before.numDataBuffers, before.numBytes], 'tfjs\' bookkeeping: everything freed once');
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

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: a gradient whose shape field lies is refused by tfjs' own record (zero-copy read past its block before)`, async () => {
    await tf.setBackend(backend);
    const v = tf.tidy(() => tf.variable(tf.ones([2, 2])));
    const g = tf.ones([2]);
    Object.defineProperty(g, 'shape', { value: [2, 2] });
    Object.defineProperty(g, 'size', { value: 4 });
    const opt = optim.sgd({ learningRate: 1 });
    assert.throws(() => opt.applyGradients({ [v.name]: g }), /tfjs' record of the data of '.*' or of its gradient does not hold 4 float32 values/);
    assert.equal(values(v), [1, 1, 1, 1]);
    const r = tf.reshape(tf.ones([4]), [2, 2]); // shares the data of a [4] tensor: same size, accepted
    opt.applyGradients({ [v.name]: r });
    assert.equal(values(v), [0, 0, 0, 0]);
    tf.dispose([v, g, r]);
    opt.dispose();
  });
}

test('getters of a { name, tensor } element run once (applyGradients and setWeights)', async () => {
  await tf.setBackend('cpu');
  const w = tf.tidy(() => tf.variable(tf.ones([2])));
  const g = tf.ones([2]);
  const opt = optim.sgd({ learningRate: 0.5 });
  let reads = 0;
  const element = { get name() { return reads++ === 0 ? w.name : 'another'; }, get tensor() { reads++; return g; } };
  opt.applyGradients([element]);
  assert.is(reads, 2, 'name and tensor read once each');
  assert.equal(values(w), [0.5, 0.5]);
  const saved = (await opt.getWeights()).map((x) => ({ name: x.name, tensor: tf.clone(x.tensor) }));
  let nameReads = 0;
  const first = saved[0];
  const tricky = [{ get name() { return nameReads++ === 0 ? 'iter' : 'not-iter'; }, tensor: first.tensor }, ...saved.slice(1)];
  const other = optim.sgd({ learningRate: 0.5 });
  await other.setWeights(tricky);
  assert.is(nameReads, 1);
  assert.is(other.iterations, 1);
  tf.dispose([w, g, ...saved.map((x) => x.tensor)]);
  opt.dispose();
  other.dispose();
});

test('toTfjs reads a class\'s className once (the name it validates is the name it registers)', () => {
  let reads = 0;
  class Counted extends core.Adam {
    static get className() {
      return reads++ === 0 ? 'CountedAdam' : '';
    }
  }
  const T = optim.toTfjs(Counted);
  assert.is(reads, 1);
  assert.is(T.className, 'wasm-optim.CountedAdam');
});

test('cpu: the pins do not count as sharing: an unshared variable is still written in place (same data, no tensor made)', async () => {
  await tf.setBackend('cpu');
  const v = tf.tidy(() => tf.variable(tf.ones([4])));
  const g = tf.ones([4]);
  const opt = optim.adam({ learningRate: 0.1, useEma: true });
  opt.applyGradients({ [v.name]: g });
  const dataId = v.dataId;
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) opt.applyGradients({ [v.name]: g });
  assert.is(v.dataId, dataId, 'written into its live array, not assigned');
  assert.is(tf.memory().numTensors, tensors);
  const shared = tf.tidy(() => tf.variable(tf.ones([4])));
  const alias = tf.reshape(shared, [2, 2]); // shares the data: the step must not write it
  opt.applyGradients({ [shared.name]: g });
  assert.equal(values(alias), [1, 1, 1, 1]);
  assert.ok(values(shared)[0] < 1);
  tf.dispose([v, g, shared, alias]);
  opt.dispose();
});

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

// ---------------------------------------------------------------- item 14: unknown options

/** model.save into memory (JSON like a file), optionally edit the optimizer config, and load. */
async function saveAndLoad(model, edit = (c) => c) {
  let artifacts;
  await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) })), { includeOptimizer: true });
  const json = JSON.parse(JSON.stringify({ ...artifacts, weightData: undefined }));
  json.trainingConfig.optimizer_config.config = edit(json.trainingConfig.optimizer_config.config);
  const { tfl } = await import('./helpers/tfjs.mjs');
  return tfl.loadLayersModel(tf.io.fromMemory({ ...json, weightData: artifacts.weightData }));
}

class WithLoaderKey extends core.SGD {
  static className = 'WithLoaderKey';
  static optionNames = ['customObjects']; // an option named like the key tfjs-layers' loader adds
  constructor({ customObjects = 1, ...rest } = {}) {
    super(rest);
    this.customObjects = customObjects;
  }
  getConfig() {
    return { ...super.getConfig(), customObjects: this.customObjects };
  }
}
core.registerClass(WithLoaderKey);

test('unknown options: factories, fromConfig and loading a saved model refuse them; snake_case gets a hint', async () => {
  await tf.setBackend('cpu');
  const snake = /unknown option 'learning_rate' \(did you mean learningRate\?\)/;
  for (const [name, F] of Object.entries(optim.train)) {
    const wrapper = F.tfjsClass.coreClass.length > 0;
    assert.throws(() => (wrapper ? F(new core.Adam(), { learning_rate: 0.5 }) : F({ learning_rate: 0.5 })), (e) => e instanceof TypeError && /unknown option.*learning_rate/.test(e.message), name);
    if (!wrapper) assert.throws(() => F({ learning_rate: 0.5 }), snake, name);
  }
  const T = optim.adam.tfjsClass;
  assert.throws(() => T.fromConfig(T, { learning_rate: 0.5 }), snake);
  assert.throws(() => T.fromConfig(T, { learningRat: 0.5 }), /Adam: unknown option 'learningRat'/);
  assert.is(T.fromConfig(T, { learningRate: 0.5, customObjects: {} }).core.learningRate, 0.5, 'the loader\'s key is dropped');

  const { tfl } = await import('./helpers/tfjs.mjs');
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
  model.compile({ optimizer: optim.adam(0.01), loss: 'meanSquaredError' });
  let error = null;
  try {
    await saveAndLoad(model, (c) => ({ ...c, learningRat: 0.5 }));
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof TypeError && /Adam: unknown option 'learningRat'/.test(error.message), String(error));
  const loaded = await saveAndLoad(model);
  assert.equal(loaded.optimizer.core.getConfig(), model.optimizer.core.getConfig());

  // A config's own key named like the loader's survives save and load.
  const own = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
  own.compile({ optimizer: optim.fromCore(new WithLoaderKey({ learningRate: 0.1, customObjects: 7 })), loss: 'meanSquaredError' });
  const back = await saveAndLoad(own);
  assert.is(back.optimizer.core.customObjects, 7);
  assert.equal(back.optimizer.core.getConfig(), own.optimizer.core.getConfig());
  for (const m of [model, loaded, own, back]) m.dispose();
});

// ---------------------------------------------------------------- item 13: disposed variables are released

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: a loop that creates and disposes a variable per step keeps memory flat; a name re-created saves`, async () => {
    await tf.setBackend(backend);
    const keep = tf.variable(tf.ones([64]), true, `keep-${backend}`);
    const g = tf.ones([64]);
    const gt = tf.ones([256]);
    const opt = optim.adam({ learningRate: 0.01, useEma: true });
    const variable = (shape, name) => {
      const z = tf.zeros(shape);
      const v = tf.variable(z, true, name);
      z.dispose(); // tf.variable shares z's data: the variable keeps it alive
      return v;
    };
    const step = () => {
      const tmp = variable([256]);
      opt.applyGradients({ [keep.name]: g, [tmp.name]: gt });
      tmp.dispose();
    };
    for (let i = 0; i < 20; i++) step();
    const probe = () => ({ tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, arena: core.defaultHeap().liveBytes, slots: opt.core.variables.length, heap: backend === 'wasm' ? tf.backend().wasm.HEAPU8.length : 0 });
    const before = probe();
    for (let i = 0; i < 300; i++) step();
    assert.equal(probe(), before, 'tensors, bytes, arena, slots and the wasm heap stay flat');
    assert.ok(before.slots <= 2 * 3, `slots of the live variables only (at most one temporary): ${before.slots}`);

    // getWeights right after a dispose: the disposed variable's slots are gone already.
    const last = variable([256]);
    opt.applyGradients({ [keep.name]: g, [last.name]: gt });
    const lastName = last.name;
    last.dispose();
    assert.ok(!(await opt.getWeights()).some((w) => w.name.startsWith(`${lastName}/`)), 'no slot of a disposed variable is saved');

    // A variable re-created under its old name: fresh state, and the state saves.
    const name = `again-${backend}`;
    for (let i = 0; i < 3; i++) {
      const v = variable([2], name);
      tf.tidy(() => opt.applyGradients({ [v.name]: tf.ones([2]) }));
      opt.applyGradients({ [keep.name]: g });
      const weights = await opt.getWeights();
      assert.is(weights.filter((w) => w.name === `${name}/m`).length, 1);
      assert.ok(opt.core.saveState() instanceof Uint8Array);
      v.dispose();
    }
    tf.dispose([keep, g, gt]);
    opt.dispose();
  });
}

test('item 21: setWeights restores through the core\'s restore by name (one design: tfjs resolves names, the core restores)', async () => {
  await tf.setBackend('cpu');
  const a = tf.variable(tf.tensor([1, 2]), true, 'late_a');
  const b = tf.variable(tf.tensor([3]), true, 'late_b');
  const src = optim.adam(0.1);
  src.applyGradients({ late_a: tf.tensor([1, 1]), late_b: tf.tensor([1]) });
  const saved = await src.getWeights();
  const opt = optim.adam(0.1);
  await opt.setWeights(saved);
  opt.applyGradients({ late_b: tf.tensor([1]) }); // only b trains: a's saved slots wait, and are still saved
  assert.ok((await opt.getWeights()).some((w) => w.name === 'late_a/m'));
  opt.applyGradients({ late_a: tf.tensor([1, 1]) });
  assert.equal(opt.core.pendingState, [], 'the core restored every entry it was handed');
  // a's first update here continued from its saved first moment (0.1 after one gradient of 1)
  const m = opt.core.variables.find((v) => v.name === 'late_a/m');
  for (const x of m.value) assert.ok(Math.abs(x - (0.9 * 0.1 + 0.1)) < 1e-6, `late_a/m is ${x}`);
  for (const x of [a, b, src, opt]) x.dispose();
});

test.run();
