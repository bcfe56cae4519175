// docs/errors.md, the `tfjs.*` rows (section "TensorFlow.js entry"): every documented bad input of
// wasm-optim/tfjs raises the documented error type with a message containing the documented text,
// and changes nothing: tf variable values, each optimizer's getWeights()/iterations/mode, the core
// optimizers involved, tf.memory().numTensors, the core arena's live bytes, tfjs' serialization
// registry. Rows are matched to CASES by id; a row without a case or a case without a row fails.
// The step and state rows (BOTH_BACKENDS) run on cpu and on wasm (zero-copy), the others on cpu.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as optim from '../build/tfjs/index.js';
import * as core from '../build/index.js';
import { repoFile } from './helpers/load-ts.mjs';
import { tf, tfl, quietly } from './helpers/tfjs.mjs';

// ---------------------------------------------------------------- docs/errors.md

const SECTION = '## TensorFlow.js entry (wasm-optim/tfjs)';

/** The first code span of a cell (any number of backticks), or null. */
function codeSpan(cell) {
  const m = /(`+)([\s\S]+?)\1(?!`)/.exec(cell);
  if (!m) return null;
  const s = m[2];
  return s.startsWith(' ') && s.endsWith(' ') && s.trim() ? s.slice(1, -1) : s;
}

function readSection() {
  const md = readFileSync(repoFile('docs', 'errors.md'), 'utf8');
  const at = md.indexOf(SECTION);
  if (at < 0) return null;
  const rest = md.slice(at + SECTION.length);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The `tfjs.*` ids named in the bullets of a `### <title>` subsection. */
function listedIn(section, title) {
  const m = new RegExp(`^### ${title}\\n([\\s\\S]*?)(?=^### |(?![\\s\\S]))`, 'm').exec(section);
  if (!m) return new Set();
  const ids = new Set();
  for (const line of m[1].split('\n')) if (line.startsWith('- ')) for (const x of line.matchAll(/`(tfjs\.[\w.-]+)`/g)) ids.add(x[1]);
  return ids;
}

const MD = readSection() ?? '';
const ROWS = (() => {
  const md = readFileSync(repoFile('docs', 'errors.md'), 'utf8');
  const rows = [];
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.slice(1, line.endsWith('|') ? -1 : undefined).split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
    const [id, fn, input, type, message] = cells;
    if (!id?.startsWith('tfjs.')) continue;
    rows.push({ id, fn, input, type, message: codeSpan(message ?? '') });
  }
  return rows;
})();
const UNCLEAR = listedIn(MD, 'Not yet clear');
const TRACES = listedIn(MD, 'Errors that leave a trace');

const BOTH_BACKENDS = ['tfjs.apply.', 'tfjs.finalize.', 'tfjs.getWeights.', 'tfjs.setWeights.', 'tfjs.restore.'];
const backendsOf = (id) => (id !== 'tfjs.apply.notready' && BOTH_BACKENDS.some((p) => id.startsWith(p)) ? ['cpu', 'wasm'] : ['cpu']);

// ---------------------------------------------------------------- what "nothing changed" means

const classIds = new Map();
const idOf = (c) => (classIds.has(c) ? classIds.get(c) : (classIds.set(c, classIds.size), classIds.size - 1));
function registry() {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  return Object.keys(map).sort().map((k) => `${k}=${idOf(map[k][0])}`).join(',');
}

async function attempt(f) {
  try {
    return await f();
  } catch (e) {
    return `throws: ${e.message}`;
  }
}

async function describe(x) {
  if (typeof x === 'function') return x();
  if (x instanceof tf.Variable) return x.isDisposed ? 'disposed' : ['tf.Variable', x.name, x.shape, x.dtype, Array.from(x.dataSync())];
  if (x instanceof optim.TfjsOptimizer) {
    return ['TfjsOptimizer', x.getClassName(), await attempt(() => x.iterations), await attempt(() => x.core.iterations), await attempt(async () => {
      const weights = await x.getWeights();
      const out = weights.map((w) => [w.name, w.tensor.dtype, w.tensor.shape, Array.from(w.tensor.dataSync())]);
      tf.dispose(weights.map((w) => w.tensor)); // this snapshot's own tensors: the count stays comparable
      return out;
    })];
  }
  if (x instanceof core.Optimizer) {
    if (x.disposed) return ['core', x.getClassName(), 'disposed'];
    return ['core', x.getClassName(), x.iterations, x.variables.length, await attempt(() => x.getConfig()), await attempt(() => {
      const s = x.getState();
      return [s.iterations, Object.entries(s.variables).map(([k, e]) => [k, e.shape, Array.from(e.values)])];
    })];
  }
  return x;
}

/** Fields that may differ for rows in "Errors that leave a trace": the binding and the arena. */
async function snapshot(watch) {
  const items = [];
  for (const x of watch) items.push(await describe(x));
  return {
    items: JSON.stringify(items),
    registry: registry(),
    tensors: tf.memory().numTensors, // after the items: getWeights() frees the previous export
    modes: JSON.stringify(watch.filter((x) => x instanceof optim.TfjsOptimizer).map((x) => x.mode)),
    arena: core.defaultHeap().liveBytes,
  };
}

function firstDifference(a, b) {
  let i = 0;
  while (a[i] === b[i]) i++;
  const at = Math.max(0, i - 120);
  return `\n      before …${a.slice(at, i + 80)}\n      after  …${b.slice(at, i + 80)}`;
}

const sub = (text, vars) => text.replace(/<(\w+)>/g, (m, k) => (k in vars ? vars[k] : m));

/** Runs one case; returns a failure message or null. */
async function check(row, c, backend, traced) {
  const where = `${row.id} [${backend}${c.label ? `, ${c.label}` : ''}]`;
  const type = c.type ?? row.type;
  const message = sub(c.message ?? row.message, { backend, other: backend === 'cpu' ? 'wasm' : 'cpu', ...c.vars });
  const watch = c.watch ?? [];
  const before = await snapshot(watch);
  let error = null;
  try {
    await c.run();
  } catch (e) {
    error = e;
  }
  if (!error) return `${where}: no error was thrown (expected ${type}: ${message})`;
  if (error.name !== type) return `${where}: expected a ${type}, got ${error.name}: ${error.message}`;
  if (!error.message.includes(message)) return `${where}: the message is\n      ${error.message}\n    docs/errors.md says\n      ${message}`;
  const after = await snapshot(watch);
  if (after.items !== before.items) return `${where}: the error changed state:${firstDifference(before.items, after.items)}`;
  if (after.registry !== before.registry) return `${where}: the error changed tfjs' serialization registry:${firstDifference(before.registry, after.registry)}`;
  if (c.tensors !== false && after.tensors !== before.tensors) return `${where}: tf.memory().numTensors went from ${before.tensors} to ${after.tensors}`;
  const trace = after.modes !== before.modes || after.arena !== before.arena;
  if (trace && !TRACES.has(row.id)) {
    return `${where}: the error changed state: ${after.modes !== before.modes ? `mode ${before.modes} -> ${after.modes}` : `arena live bytes ${before.arena} -> ${after.arena}`}`;
  }
  if (trace) traced.add(row.id);
  if (c.thenWraps) {
    // the refused core optimizer was not marked as wrapped
    try {
      optim.fromCore(c.thenWraps).dispose();
    } catch (e) {
      return `${where}: after the error the core optimizer can no longer be wrapped: ${e.message}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------- fixtures

function fixtures() {
  const made = [];
  const track = (x) => (made.push(x), x);
  const ctx = {
    track,
    /** A tf.Variable with its own data (not shared with the tensor it was made from). */
    v(values, shape, name, dtype = 'float32') {
      const t = tf.tensor(values, shape, dtype);
      const v = tf.variable(t, true, name, dtype);
      t.dispose();
      return track(v);
    },
    t: (values, shape, dtype = 'float32') => track(tf.tensor(values, shape, dtype)),
    gone(shape = [2], dtype = 'float32') {
      const t = tf.ones(shape, dtype);
      t.dispose();
      return t;
    },
    /** `adam()` after one step on w [2,2] and u [2]. */
    stepped(make = () => optim.adam({ learningRate: 0.1 })) {
      const w = ctx.v([1, 2, 3, 4], [2, 2], 'w');
      const u = ctx.v([0.5, -0.5], [2], 'u');
      const opt = track(make());
      tf.tidy(() => opt.applyGradients({ w: tf.fill([2, 2], 0.5), u: tf.fill([2], 0.5) }));
      return { w, u, opt, g: ctx.t([0.5, 0.5, 0.5, 0.5], [2, 2]), gu: ctx.t([1, 1], [2]) };
    },
    iter: (n = 3) => ({ name: 'iter', tensor: ctx.t([n], [], 'int32') }),
    slot: (name, shape, fill = 0.25) => ({ name, tensor: track(tf.fill(shape, fill)) }),
    dispose() {
      for (const x of made.reverse()) {
        if (x instanceof tf.Tensor) x.dispose();
        else if (typeof x?.dispose === 'function' && !(x instanceof core.Optimizer && x.disposed)) x.dispose();
      }
    },
  };
  return ctx;
}

// Factories: wrappers take (inner, options), the others (options).
const FACTORIES = Object.entries(optim.train);
const isWrapper = (F) => F.tfjsClass.coreClass.length >= 1;
const classOf = (F) => F.tfjsClass.coreClass.className;
const freshCore = (F) => {
  const C = F.tfjsClass.coreClass;
  return isWrapper(F) ? new C(new core.Adam()) : new C();
};

/** A dense model 2 -> units, layer 'd', trained one batch with adam(), saved with its optimizer. */
async function savedModel(units) {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ units, inputShape: [2], name: 'd' })] });
  m.compile({ optimizer: optim.adam({ learningRate: 0.01 }), loss: 'meanSquaredError' });
  const [x, y] = [tf.ones([4, 2]), tf.ones([4, units])];
  await m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
  tf.dispose([x, y]);
  let artifacts;
  await m.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) })), { includeOptimizer: true });
  m.optimizer.dispose();
  m.dispose();
  // the weights of the model, and of the optimizer ('optimizer' group), as [spec, bytes]
  const data = new Uint8Array(artifacts.weightData);
  const model = [];
  const opt = [];
  let off = 0;
  for (const spec of artifacts.weightSpecs) {
    const n = spec.shape.reduce((a, b) => a * b, 1) * 4;
    (spec.group === 'optimizer' ? opt : model).push([spec, data.slice(off, off + n)]);
    off += n;
  }
  return { artifacts, model, opt };
}

const savedModels = {};
async function saved(backend) {
  savedModels[backend] ??= { three: await savedModel(3), four: await savedModel(4) };
  return savedModels[backend];
}

/** Model artifacts with these weights ([spec, bytes]) and, optionally, another optimizer config. */
function artifactsOf(base, weights, optimizerConfig) {
  const bytes = new Uint8Array(weights.reduce((n, [, b]) => n + b.length, 0));
  let off = 0;
  for (const [, b] of weights) bytes.set(b, off), (off += b.length);
  const out = { ...base.artifacts, weightSpecs: weights.map(([s]) => s), weightData: bytes.buffer };
  if (optimizerConfig) out.trainingConfig = { ...base.artifacts.trainingConfig, optimizer_config: optimizerConfig };
  return out;
}

/** A loaded model's two failing first steps: applyGradients as model.fit calls it, then model.fit. */
async function loadedCases(ctx, artifacts) {
  const m = ctx.track(await tfl.loadLayersModel(tf.io.fromMemory(artifacts)));
  ctx.track(m.optimizer); // not owned by the model
  const vars = m.trainableWeights.map((w) => w.read());
  const x = ctx.t(new Array(8).fill(1), [4, 2]);
  const y = ctx.t(new Array(12).fill(1), [4, 3]);
  const grads = vars.map((v) => ctx.track(tf.onesLike(v)));
  const watch = [...vars, m.optimizer];
  return [
    { label: 'loaded model, applyGradients', run: () => m.optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] }))), watch },
    // tfjs' minimize does not free the gradients when applyGradients throws: not counted
    { label: 'loaded model, model.fit', run: () => m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 }), watch, tensors: false },
  ];
}

class MyAdam extends core.Adam {}
class NoFromConfig extends core.Optimizer {
  static className = 'NoFromConfig';
  static fromConfig = null;
  updateStep() {}
}

// ---------------------------------------------------------------- cases

const CASES = {
  // factories and classes
  'tfjs.factory.options': (f) => FACTORIES.filter(([, F]) => !isWrapper(F)).map(([name, F]) => ({
    label: name, vars: { Class: classOf(F) }, run: () => f.track(F({ learningRate: -1 })),
  })),
  'tfjs.factory.inner': (f) => FACTORIES.filter(([, F]) => isWrapper(F)).map(([name, F]) => ({ label: name, run: () => f.track(F({})) })),
  'tfjs.factory.subclass': (f) => FACTORIES.map(([name, F]) => {
    const C = F.tfjsClass.coreClass;
    const subName = `My${C.className}`;
    const Sub = class extends C {
      static className = subName;
    };
    const instance = f.track(isWrapper(F) ? new Sub(new core.Adam()) : new Sub());
    return { label: name, vars: { Class: C.className }, run: () => f.track(F(instance)), watch: [instance] };
  }),
  'tfjs.factory.both': (f) => FACTORIES.map(([name, F]) => {
    const instance = f.track(freshCore(F));
    return { label: name, vars: { Class: classOf(F) }, run: () => f.track(F(instance, {})), watch: [instance], thenWraps: instance };
  }),
  'tfjs.factory.optimizer': (f) => FACTORIES.filter(([, F]) => !isWrapper(F)).map(([name, F]) => {
    const other = f.track(classOf(F) === 'SGD' ? new core.Adam() : new core.SGD());
    return { label: name, vars: { Class: classOf(F) }, run: () => f.track(F(other)), watch: [other], thenWraps: other };
  }),
  'tfjs.factory.uncalled': (f) => FACTORIES.flatMap(([name, F]) => {
    const m = f.track(tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] }));
    return [
      { label: `compile, ${name}`, vars: { factory: name }, run: () => m.compile({ optimizer: F, loss: 'meanSquaredError' }) },
      { label: `minimize, ${name}`, vars: { factory: name }, run: () => F.minimize(() => tf.scalar(1)) },
    ];
  }),
  'tfjs.factory.positional-count': () => [[optim.sgd, 1], [optim.momentum, 3], [optim.rmsprop, 5], [optim.adam, 4], [optim.adamax, 5], [optim.adagrad, 2], [optim.adadelta, 3]].map(([F, n], i) => ({
    label: String(i),
    message: i === 3 ? undefined : "tf.train's form takes at most",
    run: () => F(...new Array(n + 1).fill(0.1)),
  })),
  'tfjs.factory.positional-required': () => [
    { label: 'momentum(0.1)', run: () => optim.momentum(0.1) },
    { label: 'rmsprop(undefined, 0.9)', message: 'rmsprop(learningRate, decay?, momentum?, epsilon?, centered?): learningRate is required, as in tf.train.rmsprop', run: () => optim.rmsprop(undefined, 0.9) },
    { label: 'adagrad(undefined, 0.5)', message: 'learningRate is required, as in tf.train.adagrad', run: () => optim.adagrad(undefined, 0.5) },
  ],
  'tfjs.factory.positional-unsupported': () => [{ run: () => optim.adamax(0.1, 0.9, 0.999, null, 0.01) }],
  'tfjs.factory.unknown-option': (f) => FACTORIES.filter(([, F]) => !isWrapper(F)).map(([name, F]) => ({
    label: name, vars: { Class: classOf(F) }, run: () => f.track(F({ learning_rate: 0.5 })),
  })),
  'tfjs.ctor.type': () => [{ run: () => new optim.TfjsOptimizer(5) }],
  'tfjs.fromCore.type': () => [5, null, {}].map((x) => ({ label: String(x), run: () => optim.fromCore(x) })),
  'tfjs.fromCore.disposed': () => {
    const a = new core.Adam();
    a.dispose();
    return [{ label: 'fromCore', run: () => optim.fromCore(a), watch: [a] }, { label: 'adam(optimizer)', run: () => optim.adam(a), watch: [a] }];
  },
  'tfjs.fromCore.twice': (f) => {
    const a = f.track(new core.Adam());
    f.track(optim.fromCore(a));
    return [{ label: 'fromCore', run: () => optim.fromCore(a), watch: [a] }, { label: 'adam(optimizer)', run: () => optim.adam(a), watch: [a] }];
  },
  'tfjs.fromCore.used': (f) => {
    const w = f.track(new core.Variable([1, 2], { name: 'w' }));
    const stepped = f.track(new core.Adam());
    stepped.applyGradients([[new Float32Array([1, 1]), w]]);
    const prepared = f.track(new core.Adam());
    prepared.prepare([w]);
    return [
      { label: 'stepped, fromCore', run: () => optim.fromCore(stepped), watch: [stepped, w] },
      { label: 'stepped, adam(optimizer)', run: () => optim.adam(stepped), watch: [stepped, w] },
      { label: 'prepared, fromCore', run: () => optim.fromCore(prepared), watch: [prepared, w] },
    ];
  },
  'tfjs.fromCore.className': (f) => {
    const mine = f.track(new MyAdam());
    return [{ run: () => optim.fromCore(mine), watch: [mine] }];
  },
  'tfjs.toTfjs.type': () => [
    { label: '5', run: () => optim.toTfjs(5) },
    { label: 'class {}', run: () => optim.toTfjs(class {}) },
    { label: 'Optimizer', run: () => optim.toTfjs(core.Optimizer) },
  ],
  'tfjs.toTfjs.className': () => [{ run: () => optim.toTfjs(MyAdam) }],
  'tfjs.toTfjs.fromConfig': () => [{ run: () => optim.toTfjs(NoFromConfig) }],
  'tfjs.callbacks.optimizer': (f) => {
    const tfAdam = f.track(tf.train.adam());
    const coreAdam = f.track(new core.Adam());
    return [tfAdam, coreAdam, null].flatMap((x) => [
      { label: `learningRateScheduler(${x?.constructor?.name ?? x})`, run: () => optim.callbacks.learningRateScheduler(x, () => 0.1), watch: [coreAdam] },
      { label: `learningRateLogger(${x?.constructor?.name ?? x})`, run: () => optim.callbacks.learningRateLogger(x), watch: [coreAdam] },
      { label: `reduceLROnPlateau(${x?.constructor?.name ?? x})`, run: () => optim.callbacks.reduceLROnPlateau(x), watch: [coreAdam] },
    ]);
  },
  'tfjs.callbacks.schedule-free': (f) => {
    const adam = f.track(optim.adam());
    const coreSgd = f.track(new core.ScheduleFreeSGD());
    return [adam, coreSgd, null].map((x) => ({ label: String(x?.getClassName?.() ?? x), run: () => optim.callbacks.scheduleFree(x), watch: [coreSgd] }));
  },
  'tfjs.callbacks.schedule': (f) => {
    const { opt } = f.stepped();
    return [{ run: () => optim.callbacks.learningRateScheduler(opt, 0.1), watch: [opt] }];
  },
  'tfjs.callbacks.scheduled': (f) => {
    const { opt } = f.stepped(() => optim.adam({ learningRate: new core.ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }) }));
    const later = f.track(optim.adam({ learningRate: 0.1 }));
    const cb = optim.callbacks.learningRateScheduler(later, () => 0.1);
    const decay = new core.ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 });
    return [
      { label: 'construction', run: () => optim.callbacks.learningRateScheduler(opt, () => 0.1), watch: [opt] },
      { label: 'onEpochBegin, schedule set later', run: () => ((later.core.learningRate = decay), cb.onEpochBegin(0, {})), watch: [] },
    ];
  },
  'tfjs.callbacks.return': (f) => {
    const { opt } = f.stepped();
    return ['0.1', undefined, null].map((v) => ({ label: String(v), run: () => optim.callbacks.learningRateScheduler(opt, () => v).onEpochBegin(0, {}), watch: [opt] }));
  },
  'tfjs.callbacks.range': (f) => {
    const { opt } = f.stepped();
    return [{ run: () => optim.callbacks.learningRateScheduler(opt, () => -1).onEpochBegin(0, {}), watch: [opt] }];
  },
  'tfjs.callbacks.options': (f) => {
    const { opt } = f.stepped();
    return [{ run: () => optim.callbacks.reduceLROnPlateau(opt, { min_lr: 0 }), watch: [opt] }];
  },
  'tfjs.callbacks.monitor': (f) => {
    const { opt } = f.stepped();
    const cb = optim.callbacks.reduceLROnPlateau(opt, { patience: 0 });
    return [{ run: () => cb.onEpochEnd(0, { val_loss: '0.5' }), watch: [opt, () => JSON.stringify(cb.plateau.state), () => opt.core.learningRate] }];
  },
  'tfjs.callbacks.model': (f) => {
    const model = f.track(tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] }));
    const opt = f.track(optim.adam());
    const other = f.track(optim.adam());
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const x = f.t([1, 2, 3, 4], [2, 2]);
    const y = f.t([1, 2], [2, 1]);
    const fit = (cb) => () => model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [tfl.callbacks.earlyStopping({ patience: 9 }), cb] });
    return [
      { label: 'learningRateScheduler', run: fit(optim.callbacks.learningRateScheduler(other, () => 0.1)), watch: [opt, other, ...model.weights.map((w) => w.read())] },
      { label: 'learningRateLogger', run: fit(optim.callbacks.learningRateLogger(other)), watch: [opt, other, ...model.weights.map((w) => w.read())] },
      { label: 'reduceLROnPlateau', run: fit(optim.callbacks.reduceLROnPlateau(other)), watch: [opt, other, ...model.weights.map((w) => w.read())] },
    ];
  },
  'tfjs.setZeroCopyEnabled': () => [{ run: () => optim.setZeroCopyEnabled('x') }],
  'tfjs.fromConfig.type': () => {
    const T = optim.adam.tfjsClass;
    return [null, []].map((config) => ({ label: JSON.stringify(config), run: () => T.fromConfig(T, config) }));
  },
  'tfjs.fromConfig.class': () => [{ run: () => optim.TfjsOptimizer.fromConfig(optim.TfjsOptimizer, {}) }],
  'tfjs.fromConfig.cls': () => {
    const T = optim.adam.tfjsClass;
    return [
      { label: 'undefined', run: () => T.fromConfig(undefined, {}) },
      { label: 'null', run: () => T.fromConfig(null, {}) },
    ];
  },
  'tfjs.fromConfig.one-arg': () => {
    const T = optim.adam.tfjsClass;
    return [{ run: () => T.fromConfig({ learningRate: 0.1 }) }];
  },
  'tfjs.fromConfig.options': () => {
    const T = optim.adam.tfjsClass;
    return [{ run: () => T.fromConfig(T, { learningRate: -1 }) }];
  },
  'tfjs.fromConfig.unknown-option': () => {
    const T = optim.adam.tfjsClass;
    return [{ run: () => T.fromConfig(T, { learning_rate: 0.5, customObjects: {} }) }];
  },
  'tfjs.getConfig.function': (f) => {
    const opt = f.track(optim.adam({ learningRate: () => 0.1 }));
    const m = f.track(tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] }));
    m.compile({ optimizer: opt, loss: 'meanSquaredError' });
    let called = false;
    const handler = tf.io.withSaveHandler(async (a) => ((called = true), { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) }));
    return [
      { label: 'getConfig', run: () => opt.getConfig(), watch: [opt] },
      { label: 'model.save', run: () => m.save(handler, { includeOptimizer: true }), watch: [opt, ...m.weights.map((w) => w.read()), () => called] },
    ];
  },

  // applyGradients
  'tfjs.apply.type': (f) => {
    const { w, u, opt } = f.stepped();
    return [42, null, 's', undefined].map((x) => ({ label: String(x), run: () => opt.applyGradients(x), watch: [w, u, opt] }));
  },
  'tfjs.apply.element': (f) => {
    const { w, u, opt, g } = f.stepped();
    return [
      { label: '[null]', run: () => opt.applyGradients([null]), watch: [w, u, opt] },
      { label: '[{ name: 5 }]', run: () => opt.applyGradients([{ name: 5, tensor: g }]), watch: [w, u, opt] },
      { label: 'after a valid element', message: 'element 1 must be a { name, tensor } object', run: () => opt.applyGradients([{ name: 'w', tensor: g }, 'x']), watch: [w, u, opt] },
    ];
  },
  'tfjs.apply.variable': (f) => {
    const { w, u, opt, g, gu } = f.stepped();
    f.v([1, 2], [2], 'nope').dispose();
    return [
      { label: 'never existed', message: "there is no live tf.Variable named 'never'", run: () => opt.applyGradients({ w: g, never: gu }), watch: [w, u, opt] },
      { label: 'disposed, map', run: () => opt.applyGradients({ w: g, nope: gu }), watch: [w, u, opt] },
      { label: 'disposed, list', run: () => opt.applyGradients([{ name: 'w', tensor: g }, { name: 'nope', tensor: gu }]), watch: [w, u, opt] },
    ];
  },
  'tfjs.apply.dtype': (f) => {
    const { w, u, opt, g, gu } = f.stepped();
    const i = f.v([1, 2], [2], 'i', 'int32');
    const b = f.v([true, false], [2], 'b', 'bool');
    return [
      { label: 'int32, map', run: () => opt.applyGradients({ w: g, i: gu }), watch: [w, u, i, opt] },
      { label: 'int32, list', run: () => opt.applyGradients([{ name: 'w', tensor: g }, { name: 'i', tensor: gu }]), watch: [w, u, i, opt] },
      { label: 'bool', message: 'has dtype bool; only float32 variables can be trained', run: () => opt.applyGradients({ b: gu }), watch: [w, u, b, opt] },
    ];
  },
  'tfjs.apply.gradient-type': (f) => {
    const { w, u, opt, gu } = f.stepped();
    return [
      { label: 'array, map', run: () => opt.applyGradients({ u: gu, w: [1, 2, 3, 4] }), watch: [w, u, opt] },
      { label: 'number, list', run: () => opt.applyGradients([{ name: 'u', tensor: gu }, { name: 'w', tensor: 5 }]), watch: [w, u, opt] },
    ];
  },
  'tfjs.apply.gradient-disposed': (f) => {
    const { w, u, opt, gu } = f.stepped();
    const gone = f.gone([2, 2]);
    return [{ run: () => opt.applyGradients({ u: gu, w: gone }), watch: [w, u, opt] }];
  },
  'tfjs.apply.gradient-dtype': (f, backend) => {
    const { w, u, opt, gu } = f.stepped();
    const gi = f.t([1, 1, 1, 1], [2, 2], 'int32');
    const cases = [{ label: 'int32', run: () => opt.applyGradients({ u: gu, w: gi }), watch: [w, u, opt] }];
    if (backend === 'cpu') {
      // tfjs-backend-wasm has no Complex kernel
      const gc = f.track(tf.complex([[1, 1], [1, 1]], [[0, 0], [0, 0]]));
      cases.push({
        label: 'complex64',
        message: "the gradient for 'w' has dtype complex64, expected float32",
        run: () => opt.applyGradients([{ name: 'u', tensor: gu }, { name: 'w', tensor: gc }]),
        watch: [w, u, opt],
      });
    }
    return cases;
  },
  'tfjs.apply.shape': (f) => {
    const { w, u, opt, gu } = f.stepped();
    const g4 = f.t([1, 1, 1, 1], [4]);
    return [
      { label: 'map', run: () => opt.applyGradients({ u: gu, w: g4 }), watch: [w, u, opt] },
      { label: 'list', run: () => opt.applyGradients([{ name: 'u', tensor: gu }, { name: 'w', tensor: g4 }]), watch: [w, u, opt] },
    ];
  },
  'tfjs.apply.record': (f) => {
    const { w, u, opt, gu } = f.stepped();
    const liar = f.t([1, 1], [2]);
    Object.defineProperty(liar, 'shape', { value: [2, 2] });
    Object.defineProperty(liar, 'size', { value: 4 });
    return [
      { label: 'map', run: () => opt.applyGradients({ u: gu, w: liar }), watch: [w, u, opt] },
      { label: 'list', run: () => opt.applyGradients([{ name: 'u', tensor: gu }, { name: 'w', tensor: liar }]), watch: [w, u, opt] },
    ];
  },
  'tfjs.apply.twice': (f) => {
    const { w, u, opt, g } = f.stepped();
    return [{ run: () => opt.applyGradients([{ name: 'w', tensor: g }, { name: 'w', tensor: g }]), watch: [w, u, opt] }];
  },
  'tfjs.apply.backend': async (f, backend) => {
    await tf.setBackend(backend === 'cpu' ? 'wasm' : 'cpu');
    const { w, u, opt } = f.stepped();
    await tf.setBackend(backend);
    const g = f.t([1, 1, 1, 1], [2, 2]);
    return [{ run: () => opt.applyGradients({ w: g }), watch: [w, u, opt] }];
  },
  'tfjs.apply.disposed': (f) => {
    const { w, u, opt, g } = f.stepped();
    opt.dispose();
    return [{ run: () => opt.applyGradients({ w: g }), watch: [w, u] }];
  },
  'tfjs.apply.prototype-name': (f) => {
    const { w, u, opt, g } = f.stepped();
    return [
      { label: 'toString, map', run: () => opt.applyGradients({ toString: g }), watch: [w, u, opt] },
      { label: 'constructor, list', message: "there is no live tf.Variable named 'constructor'", run: () => opt.applyGradients([{ name: 'constructor', tensor: g }]), watch: [w, u, opt] },
    ];
  },
  'tfjs.apply.map': (f) => {
    const { w, u, opt, g } = f.stepped();
    return [{ run: () => opt.applyGradients(new Map([['w', g]])), watch: [w, u, opt] }];
  },
  'tfjs.apply.reentrant': (f) => {
    let call = null;
    const { w, u, opt, g } = f.stepped(() => optim.adam({ learningRate: () => (call?.(), 0.1) }));
    const calls = [
      ['applyGradients', () => opt.applyGradients({ w: g })],
      ['finalizeVariableValues', () => opt.finalizeVariableValues()],
      ['dispose', () => opt.dispose()],
    ];
    return calls.map(([what, fn]) => ({
      label: what,
      message: `wasm-optim.Adam.${what}: called from inside applyGradients`,
      run: () => {
        call = fn;
        try {
          opt.applyGradients({ w: g });
        } finally {
          call = null;
        }
      },
      watch: [w, u, opt],
    }));
  },
  'tfjs.toTfjs.className-taken': () => {
    class Impostor extends core.Adam {
      static className = 'Adam';
    }
    return [
      { label: 'toTfjs', run: () => optim.toTfjs(Impostor) },
      { label: 'fromCore', run: () => optim.fromCore(new Impostor()) },
    ];
  },
  // 'tfjs.apply.notready' runs in a fresh process (below)
  'tfjs.finalize.disposed': (f) => {
    const { w, u, opt } = f.stepped(() => optim.adam({ learningRate: 0.1, useEma: true }));
    opt.dispose();
    return [{ run: () => opt.finalizeVariableValues(), watch: [w, u] }];
  },

  // getWeights / setWeights
  'tfjs.getWeights.disposed': (f) => {
    const { w, u, opt } = f.stepped();
    opt.dispose();
    return [{ run: () => opt.getWeights(), watch: [w, u] }];
  },
  'tfjs.setWeights.disposed': async (f) => {
    const { w, u, opt } = f.stepped();
    const weights = (await opt.getWeights()).map((x) => ({ name: x.name, tensor: f.track(tf.clone(x.tensor)) }));
    opt.dispose();
    return [{ run: () => opt.setWeights(weights), watch: [w, u] }];
  },
  'tfjs.setWeights.type': (f) => {
    const { w, u, opt } = f.stepped();
    return [null, [], 'x'].map((x) => ({ label: JSON.stringify(x), run: () => opt.setWeights(x), watch: [w, u, opt] }));
  },
  'tfjs.setWeights.element': (f) => {
    const { w, u, opt } = f.stepped();
    const iter = f.iter();
    return [
      { label: '[5]', run: () => opt.setWeights([5]), watch: [w, u, opt] },
      { label: 'no name', run: () => opt.setWeights([{ tensor: iter.tensor }]), watch: [w, u, opt] },
      { label: 'empty name', run: () => opt.setWeights([{ name: '', tensor: iter.tensor }]), watch: [w, u, opt] },
      { label: 'an array, not a tensor', run: () => opt.setWeights([iter, { name: 'w/m', tensor: [1, 2] }]), watch: [w, u, opt] },
    ];
  },
  'tfjs.setWeights.plateau': (f) => {
    const { w, u, opt } = f.stepped();
    const iter = f.iter();
    const floats = { name: 'lr_plateau', tensor: f.track(tf.zeros([8], 'float32')) };
    const short = { name: 'lr_plateau', tensor: f.track(tf.zeros([4], 'int32')) };
    return [
      { label: 'float32', run: () => opt.setWeights([iter, floats]), watch: [w, u, opt] },
      { label: '4 values', run: () => opt.setWeights([iter, short]), watch: [w, u, opt] },
    ];
  },
  'tfjs.setWeights.tensor-disposed': (f) => {
    const { w, u, opt } = f.stepped();
    const goneIter = [{ name: 'iter', tensor: f.gone([], 'int32') }];
    const goneSlot = [f.iter(), { name: 'w/m', tensor: f.gone([2, 2]) }];
    return [
      { label: 'iter', run: () => opt.setWeights(goneIter), watch: [w, u, opt] },
      { label: 'a slot', message: "the tensor of 'w/m' was already disposed", run: () => opt.setWeights(goneSlot), watch: [w, u, opt] },
    ];
  },
  'tfjs.setWeights.iter': (f) => {
    const { w, u, opt } = f.stepped();
    const bad = {
      'another name first': [f.slot('w/m', [2, 2]), f.iter()],
      '-1': [{ name: 'iter', tensor: f.t([-1], [], 'int32') }],
      '1.5': [{ name: 'iter', tensor: f.t([1.5], []) }],
      NaN: [{ name: 'iter', tensor: f.t([NaN], []) }],
      '2 values': [{ name: 'iter', tensor: f.t([1, 2], [2], 'int32') }],
    };
    return Object.entries(bad).map(([label, weights]) => ({ label, run: () => opt.setWeights(weights), watch: [w, u, opt] }));
  },
  'tfjs.setWeights.dtype': (f, backend) => {
    const { w, u, opt } = f.stepped();
    const ints = [f.iter(), { name: 'w/m', tensor: f.t([1, 1, 1, 1], [2, 2], 'int32') }];
    const strings = [f.iter(), { name: 'w/m', tensor: f.t(['a'], [1], 'string') }];
    const cases = [
      { label: 'int32', run: () => opt.setWeights(ints), watch: [w, u, opt] },
      { label: 'string', message: "'w/m' has dtype string, expected float32", run: () => opt.setWeights(strings), watch: [w, u, opt] },
    ];
    if (backend === 'cpu') {
      // tfjs-backend-wasm has no Complex kernel
      const complex = [f.iter(), { name: 'w/m', tensor: f.track(tf.complex([1], [0])) }];
      cases.push({ label: 'complex64', message: "'w/m' has dtype complex64, expected float32", run: () => opt.setWeights(complex), watch: [w, u, opt] });
    }
    return cases;
  },
  'tfjs.setWeights.duplicate': (f) => {
    const { w, u, opt } = f.stepped();
    const slots = [f.iter(), f.slot('w/m', [2, 2]), f.slot('w/m', [2, 2])];
    const iters = [f.iter(), { name: 'iter', tensor: f.t([1], []) }];
    return [
      { label: 'a slot', run: () => opt.setWeights(slots), watch: [w, u, opt] },
      { label: 'iter', message: "the name 'iter' appears twice", run: () => opt.setWeights(iters), watch: [w, u, opt] },
    ];
  },

  // saved state against the variables being trained (setWeights, or a loaded model)
  'tfjs.restore.none': async (f, backend) => {
    const a = f.v([1, 2], [2], 'a');
    const opt = f.track(optim.adam());
    await opt.setWeights([f.iter(), f.slot('zz/m', [2]), f.slot('zz/v', [2])]);
    const g = f.t([1, 1], [2]);
    const { three } = await saved(backend);
    const renamed = three.opt.map(([s, b]) => [{ ...s, name: s.name.replace(/^d\//, 'e/') }, b]);
    return [
      { label: 'setWeights, applyGradients', run: () => opt.applyGradients({ a: g }), watch: [a, opt] },
      ...(await loadedCases(f, artifactsOf(three, [...three.model, ...renamed]))),
    ];
  },
  'tfjs.restore.shape': async (f, backend) => {
    const k = f.v([1, 2, 3, 4, 5, 6], [2, 3], 'r/kernel');
    const opt = f.track(optim.adam());
    await opt.setWeights([f.iter(), f.slot('r/kernel/m', [2, 4]), f.slot('r/kernel/v', [2, 4])]);
    const g = f.t([1, 1, 1, 1, 1, 1], [2, 3]);
    const { three, four } = await saved(backend);
    return [
      { label: 'setWeights, applyGradients', run: () => opt.applyGradients([{ name: 'r/kernel', tensor: g }]), watch: [k, opt] },
      ...(await loadedCases(f, artifactsOf(three, [...three.model, ...four.opt]))),
    ];
  },
  'tfjs.restore.lacks': async (f) => {
    const a = f.v([1, 2], [2], 'a');
    const opt = f.track(optim.adam());
    await opt.setWeights([f.iter(), f.slot('a/m', [2])]);
    const g = f.t([1, 1], [2]);
    return [{ run: () => opt.applyGradients({ a: g }), watch: [a, opt] }];
  },
  'tfjs.restore.extra': async (f) => {
    const a = f.v([1, 2], [2], 'a');
    const opt = f.track(optim.adam());
    await opt.setWeights([f.iter(), f.slot('a/m', [2]), f.slot('a/v', [2]), f.slot('a/zzz', [2])]);
    const g = f.t([1, 1], [2]);
    return [{ run: () => opt.applyGradients({ a: g }), watch: [a, opt] }];
  },
  'tfjs.restore.ambiguous': async (f) => {
    const q1 = f.v([1, 2], [2], 'q_1');
    const q2 = f.v([3, 4], [2], 'q_2');
    const opt = f.track(optim.adam());
    await opt.setWeights([f.iter(), f.slot('q/m', [2]), f.slot('q/v', [2])]);
    const g = f.t([1, 1], [2]);
    return [{ run: () => opt.applyGradients({ q_1: g, q_2: g }), watch: [q1, q2, opt] }];
  },

  // loading a saved model (the loader's own leftovers are not counted: tensors false)
  'tfjs.load.class': async (f, backend) => {
    const { three } = await saved(backend);
    const artifacts = artifactsOf(three, [...three.model, ...three.opt], { class_name: 'wasm-optim.NeverRegistered', config: {} });
    return [{ run: () => tfl.loadLayersModel(tf.io.fromMemory(artifacts)), tensors: false }];
  },
  'tfjs.load.config': async (f, backend) => {
    const { three } = await saved(backend);
    const { class_name, config } = three.artifacts.trainingConfig.optimizer_config;
    const artifacts = artifactsOf(three, [...three.model, ...three.opt], { class_name, config: { ...config, learningRate: -1 } });
    return [{ run: () => tfl.loadLayersModel(tf.io.fromMemory(artifacts)), tensors: false }];
  },
  'tfjs.load.unknown-option': async (f, backend) => {
    const { three } = await saved(backend);
    const { class_name, config } = three.artifacts.trainingConfig.optimizer_config;
    const artifacts = artifactsOf(three, [...three.model, ...three.opt], { class_name, config: { ...config, learningRat: 0.5 } });
    return [{ run: () => tfl.loadLayersModel(tf.io.fromMemory(artifacts)), tensors: false }];
  },
  'tfjs.load.weights': async (f, backend) => {
    const { three } = await saved(backend);
    const artifacts = artifactsOf(three, [...three.model, ...three.opt.filter(([s]) => s.name !== 'iter')]);
    return [{ run: () => tfl.loadLayersModel(tf.io.fromMemory(artifacts)), tensors: false }];
  },
};

// ---------------------------------------------------------------- in a fresh process: before ready()

const CHILD = {
  'tfjs.apply.notready': `
    const opt = optim.adam();
    const w = tf.variable(tf.tensor([1, 2]), true, 'w');
    let error = null;
    try { opt.applyGradients({ w: tf.ones([2]) }); } catch (e) { error = e; }
    out = { name: error?.name ?? 'none', message: error?.message ?? 'no error', ready: optim.isReady(), mode: opt.mode, iterations: opt.iterations, values: Array.from(w.dataSync()) };`,
};

function runChild(code) {
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(${JSON.stringify(pathToFileURL(repoFile('test', 'x.mjs')).href)});
    const tf = require('@tensorflow/tfjs-core');
    require('@tensorflow/tfjs-backend-cpu');
    const optim = await import(${JSON.stringify(pathToFileURL(repoFile('build', 'tfjs', 'index.js')).href)});
    console.warn = () => {};
    await tf.setBackend('cpu');
    let out;
    ${code}
    console.log(JSON.stringify(out));`;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  try {
    return JSON.parse(res.stdout.trim().split('\n').pop());
  } catch {
    return { name: 'ChildFailed', message: `${res.stdout}\n${res.stderr}` };
  }
}

// ---------------------------------------------------------------- tests

test('docs/errors.md: the tfjs section exists; ids are unique; every row has an error type and a message', () => {
  assert.ok(MD, `docs/errors.md has no "${SECTION}" section`);
  const seen = new Set();
  for (const row of ROWS) {
    assert.ok(!seen.has(row.id), `duplicate id ${row.id}`);
    seen.add(row.id);
    assert.ok(/^([A-Z]\w*)?Error$/.test(row.type), `${row.id}: error type '${row.type}'`);
    assert.ok(row.message, `${row.id}: the message column needs the message in backticks`);
  }
  for (const id of [...UNCLEAR, ...TRACES]) assert.ok(seen.has(id), `${id} is listed in a subsection but has no row`);
  assert.ok(ROWS.length >= 40, `only ${ROWS.length} tfjs rows parsed`);
  assert.equal(FACTORIES.filter(([, F]) => isWrapper(F)).map(([n]) => n).sort(), ['lookahead', 'lossScaleOptimizer', 'multiOptimizer', 'swa']);
});

test('every tfjs row has a case, every case has a row', () => {
  const ids = new Set(ROWS.map((r) => r.id));
  const missing = ROWS.filter((r) => !CASES[r.id] && !CHILD[r.id]).map((r) => r.id);
  assert.equal(missing, [], `rows without a case: ${missing.join(', ')}`);
  const orphans = [...Object.keys(CASES), ...Object.keys(CHILD)].filter((id) => !ids.has(id));
  assert.equal(orphans, [], `cases without a row in docs/errors.md: ${orphans.join(', ')}`);
});

const traced = new Set();
for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: every documented tfjs error: its type, its message, and nothing changed`, async () => {
    await quietly(() => tf.setBackend(backend));
    const failures = [];
    let checks = 0;
    for (const row of ROWS) {
      if (!CASES[row.id] || !backendsOf(row.id).includes(backend)) continue;
      await tf.setBackend(backend);
      const f = fixtures();
      try {
        const cases = await CASES[row.id](f, backend);
        for (const c of cases) {
          checks++;
          const problem = await check(row, c, backend, traced);
          if (problem) failures.push(problem);
        }
      } catch (e) {
        failures.push(`${row.id} [${backend}]: the case itself threw: ${e.stack}`);
      } finally {
        await tf.setBackend(backend);
        f.dispose();
      }
    }
    console.log(`  ${backend}: ${checks} checks`);
    if (failures.length) assert.unreachable(`${failures.length} of ${checks} checks failed:\n  - ${failures.join('\n  - ')}`);
  });
}

test('the rows listed under "Errors that leave a trace" still do (else remove them from the list)', () => {
  const stale = [...TRACES].filter((id) => !traced.has(id));
  assert.equal(stale, [], `these rows no longer change mode or arena: ${stale.join(', ')}`);
});

test('before ready(), in a fresh process: type, message, and nothing changed', () => {
  const failures = [];
  for (const row of ROWS.filter((r) => CHILD[r.id])) {
    const r = runChild(CHILD[row.id]);
    if (r.name !== row.type) failures.push(`${row.id}: expected a ${row.type}, got ${r.name}: ${r.message}`);
    else if (!r.message.includes(row.message)) failures.push(`${row.id}: the message is\n      ${r.message}\n    docs/errors.md says\n      ${row.message}`);
    else if (r.ready !== false || r.mode !== null || r.iterations !== 0 || JSON.stringify(r.values) !== '[1,2]') {
      failures.push(`${row.id}: the error changed state: ${JSON.stringify(r)}`);
    }
  }
  if (failures.length) assert.unreachable(failures.join('\n  - '));
});

test.run();
