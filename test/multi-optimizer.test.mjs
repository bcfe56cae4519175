// MultiOptimizer and OptimizerMap (Keras 3.15 semantics): routing, one atomic step across inner
// optimizers, whole-step loss scale and global clipping (bit-identical to a single optimizer),
// configs, states and checkpoints (bit-exact continuation), and zero allocation per step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import {
  ready, setSimdEnabled, defaultHeap, registerClass, Variable, Optimizer, Adam, AdamW, SGD, RMSprop, Nadam, Lookahead, LossScaleOptimizer, MultiOptimizer, OptimizerMap, deserialize,
} from '../build/index.js';
import { repoFile } from './helpers/load-ts.mjs';
import { rng } from './helpers/random.mjs';

await ready();

const bits = (x) => Array.from(new Uint32Array(Float32Array.from(x instanceof Variable ? x.value : x).buffer));
const same = (a, b, msg) => assert.equal(bits(a), bits(b), msg);
const throws = (fn, type, text) => {
  try {
    fn();
  } catch (e) {
    assert.instance(e, type, `${e.message}`);
    assert.ok(e.message.includes(text), `expected '${text}' in: ${e.message}`);
    return;
  }
  assert.unreachable(`expected ${type.name}: ${text}`);
};

/** A small model: two "encoder" matrices, an embedding table (sparse rows) and a head. */
function model(seed = 1) {
  const r = rng(seed);
  return [
    new Variable(r.f32(15, 0.5), { name: 'encoder/dense/kernel', shape: [5, 3] }),
    new Variable(r.f32(3, 0.5), { name: 'encoder/dense/bias' }),
    new Variable(r.f32(17 * 4, 0.5), { name: 'embedding/table', shape: [17, 4] }),
    new Variable(r.f32(7, 0.5), { name: 'head/kernel' }),
  ];
}

/** Gradients for step `s`: dense, except the table's, which is sparse rows with duplicates. */
function grads(vars, s, { sparse = true, scale = 1 } = {}) {
  const r = rng(100 + s);
  return vars.map((v) => {
    if (sparse && v.shape.length === 2 && v.shape[0] === 17) {
      const indices = [3, 0, 3, 16, 5, 3];
      const values = r.f32(indices.length * 4, 0.3 * scale);
      return [{ indices, values }, v];
    }
    return [r.f32(v.size, 0.3 * scale), v];
  });
}

function sameModel(a, b, msg) {
  a.forEach((v, i) => same(v, b[i], `${msg}: ${v.name}`));
}

// ---------------------------------------------------------------- OptimizerMap

test('OptimizerMap: exact key first, else the one pattern matching the whole name, else the default', () => {
  const adam = new Adam();
  const sgd = new SGD();
  const rms = new RMSprop();
  const map = new OptimizerMap(rms);
  map.set('encoder/layer_0/dense', adam);
  map.set('encoder/.*', sgd);
  map.set('decoder', adam);
  assert.is(map.get('decoder'), adam);
  assert.is(map.get('encoder/layer_0/dense'), adam, 'the exact key wins over the pattern');
  assert.is(map.get('encoder/layer_0/attention/query'), sgd);
  assert.is(map.get('decoder/layer_0/dense'), rms, "'decoder' matches only the whole name");
  assert.is(map.get('my_encoder/x'), rms, 'a pattern must match from the start');
  assert.equal(map.optimizers, [adam, sgd, rms], 'distinct, keys order, then the default');
  assert.equal(new OptimizerMap(rms, { a: sgd, b: rms, c: adam }).optimizers, [sgd, rms, adam], 'a default a key maps to keeps its place (Keras)');
  assert.equal(map.keys(), ['encoder/layer_0/dense', 'encoder/.*', 'decoder']);
});

test('OptimizerMap: two matching patterns is an error naming the variable and both keys', () => {
  const map = new OptimizerMap(new Adam(), { 'enc.*': new SGD(), '.*kernel': new SGD() });
  throws(() => map.get('encoder/kernel'), Error, "variable 'encoder/kernel' matches more than one key: 'enc.*', '.*kernel'");
  // Two keys for the same optimizer still count as two matches (as in Keras).
  const s = new SGD();
  const m2 = new OptimizerMap(new Adam(), { 'a.*': s, '.*b': s });
  throws(() => m2.get('ab'), Error, "matches more than one key: 'a.*', '.*b'");
});

test('OptimizerMap: refuses duplicate keys, invalid patterns, non-optimizers, LossScaleOptimizer and MultiOptimizer', () => {
  const map = new OptimizerMap(new Adam(), { a: new SGD() });
  throws(() => map.set('a', new SGD()), Error, "key 'a' is already mapped");
  throws(() => map.set('a)(b', new SGD()), SyntaxError, "key 'a)(b' is not a valid regular expression");
  throws(() => map.set('(', new SGD()), SyntaxError, "key '(' is not a valid regular expression");
  throws(() => map.set(5, new SGD()), TypeError, 'key must be a string');
  throws(() => map.set('x', {}), TypeError, "the optimizer for 'x' must be an Optimizer");
  throws(() => map.set('x', new LossScaleOptimizer(new Adam())), TypeError, 'is a LossScaleOptimizer, which cannot be used inside a MultiOptimizer');
  throws(() => map.set('x', new MultiOptimizer(new Adam())), TypeError, 'is a MultiOptimizer, which cannot be used inside a MultiOptimizer');
  throws(() => new OptimizerMap({}), TypeError, 'OptimizerMap: defaultOptimizer must be an Optimizer');
  throws(() => new OptimizerMap(new LossScaleOptimizer(new Adam())), TypeError, 'defaultOptimizer is a LossScaleOptimizer');
  throws(() => new OptimizerMap(new Adam(), [new SGD()]), TypeError, 'optimizerMap must be an object of { key: optimizer }');
  throws(() => new OptimizerMap(new Adam(), { ok: new SGD(), 'bad(': new SGD() }), SyntaxError, "key 'bad(' is not a valid regular expression");
  assert.equal(map.keys(), ['a'], 'refused keys were not added');
});

// ---------------------------------------------------------------- construction and options

test('MultiOptimizer: takes an OptimizerMap, a router function or one optimizer', () => {
  const adam = new Adam();
  assert.equal(new MultiOptimizer(adam).optimizers, [adam]);
  const map = new OptimizerMap(new Adam(), { 'x.*': new SGD() });
  assert.is(new MultiOptimizer(map).optimizers.length, 2);
  assert.equal(new MultiOptimizer(() => adam).optimizers, [], 'a router finds its optimizers when routing');
  throws(() => new MultiOptimizer(5), TypeError, 'optimizerMap must be an Optimizer (it then takes every variable), an OptimizerMap or a function (variable) => optimizer');
  throws(() => new MultiOptimizer(new LossScaleOptimizer(new Adam())), TypeError, 'LossScaleOptimizer, which cannot be used inside a MultiOptimizer');
});

test('MultiOptimizer: options are lossScaleFactor, globalClipnorm and name; other base options belong on the inner optimizers', () => {
  const m = new MultiOptimizer(new Adam(), { lossScaleFactor: 128, globalClipnorm: 1, name: 'multi' });
  assert.is(m.lossScaleFactor, 128);
  assert.is(m.globalClipnorm, 1);
  assert.is(m.name, 'multi');
  assert.is(new MultiOptimizer(new Adam()).name, 'multi_optimizer');
  for (const key of ['learningRate', 'weightDecay', 'clipnorm', 'clipvalue', 'useEma', 'emaMomentum', 'emaOverwriteFrequency', 'gradientAccumulationSteps', 'skipNonFinite']) {
    throws(() => new MultiOptimizer(new Adam(), { [key]: 1 }), TypeError, `MultiOptimizer: ${key} belongs on the inner optimizers`);
  }
  throws(() => new MultiOptimizer(new Adam(), { loss_scale_factor: 2 }), TypeError, "unknown option 'loss_scale_factor' (did you mean lossScaleFactor?)");
  throws(() => new MultiOptimizer(new Adam(), { lossScaleFactor: 0 }), RangeError, 'MultiOptimizer: lossScaleFactor must be a finite number > 0');
  throws(() => new MultiOptimizer(new Adam(), { globalClipnorm: -1 }), RangeError, 'MultiOptimizer: globalClipnorm must be a finite number >= 0');
  throws(() => new MultiOptimizer(new Adam({ gradientAccumulationSteps: 2 }), { globalClipnorm: 1 }), Error, 'accumulates gradients (gradientAccumulationSteps)');
  throws(() => m.learningRate, TypeError, 'learningRate cannot be read on a MultiOptimizer');
  throws(() => {
    m.learningRate = 0.1;
  }, TypeError, 'learningRate cannot be set on a MultiOptimizer');
});

test('MultiOptimizer: lossScaleFactor overrides the inner optimizers\' own (set to null, as Keras does)', () => {
  const a = new Adam({ lossScaleFactor: 4 });
  const s = new SGD({ lossScaleFactor: 8 });
  new MultiOptimizer(new OptimizerMap(a, { 'x.*': s }), { lossScaleFactor: 2 });
  assert.is(a.lossScaleFactor, null);
  assert.is(s.lossScaleFactor, null);
});

test('MultiOptimizer: an optimizer serves one MultiOptimizer, once per step', () => {
  const adam = new Adam();
  new MultiOptimizer(adam);
  throws(() => new MultiOptimizer(adam), Error, 'is already an inner optimizer of another MultiOptimizer');
  const inner = new SGD();
  throws(() => new MultiOptimizer(new OptimizerMap(inner, { 'x.*': new Lookahead(inner) })), Error, 'would run twice in a step');
});

// ---------------------------------------------------------------- routing

test('routing: decided at first sight and kept (a renamed variable stays with its optimizer)', () => {
  const sgd = new SGD({ learningRate: 0.1 });
  const adam = new Adam();
  const m = new MultiOptimizer(new OptimizerMap(adam, { 'encoder/.*': sgd }));
  const [w] = model();
  m.applyGradients([[new Float32Array(15).fill(1), w]]);
  assert.is(m.optimizerFor(w), sgd);
  w.name = 'head/renamed';
  m.applyGradients([[new Float32Array(15).fill(1), w]]);
  assert.is(m.optimizerFor(w), sgd);
  assert.is(sgd.iterations, 2);
  assert.is(adam.iterations, 0, 'an inner optimizer without gradients takes no step');
  assert.is(m.iterations, 2);
});

test('routing: a key set after construction applies to variables not seen yet; its optimizer joins `optimizers`', () => {
  const adam = new Adam();
  const map = new OptimizerMap(adam);
  const m = new MultiOptimizer(map);
  const [w, b] = model();
  m.applyGradients([[new Float32Array(15).fill(1), w]]);
  const sgd = new SGD();
  map.set('encoder/.*', sgd);
  m.applyGradients([[new Float32Array(15).fill(1), w], [new Float32Array(3).fill(1), b]]);
  assert.is(m.optimizerFor(w), adam, 'seen before the key was set');
  assert.is(m.optimizerFor(b), sgd);
  assert.equal(m.optimizers, [adam, sgd]);
});

test('routing: a router function, called once per variable; its mistakes are clear errors and change nothing', () => {
  const adam = new Adam();
  const sgd = new SGD();
  let calls = 0;
  const m = new MultiOptimizer((v) => {
    calls++;
    return v.name.startsWith('encoder') ? sgd : adam;
  });
  const vars = model();
  for (let s = 0; s < 3; s++) m.applyGradients(grads(vars, s));
  assert.is(calls, 4);
  assert.equal(m.optimizers, [sgd, adam]);
  const bad = new MultiOptimizer(() => 42);
  const [w] = model();
  const before = bits(w);
  throws(() => bad.applyGradients([[new Float32Array(15), w]]), TypeError, "the router returned 42 for variable 'encoder/dense/kernel'; expected an Optimizer");
  assert.equal(bits(w), before, 'unchanged');
  const lso = new MultiOptimizer(() => new LossScaleOptimizer(new Adam()));
  throws(() => lso.applyGradients([[new Float32Array(15), w]]), TypeError, "for variable 'encoder/dense/kernel': the optimizer is a LossScaleOptimizer");
  assert.equal(lso.optimizers, []);
  throws(() => bad.getConfig(), TypeError, 'a router function cannot be serialized');
});

test('routing: the same optimizer under two keys is one inner optimizer (one step per call)', () => {
  const shared = new Adam({ learningRate: 0.01 });
  const m = new MultiOptimizer(new OptimizerMap(new SGD(), { 'encoder/.*': shared, 'head/.*': shared }));
  assert.is(m.optimizers.length, 2);
  const vars = model();
  m.applyGradients(grads(vars, 0));
  assert.is(shared.iterations, 1);
  // Equal to that Adam on those variables alone.
  const ref = model();
  const adam = new Adam({ learningRate: 0.01 });
  const g = grads(ref, 0);
  adam.applyGradients([g[0], g[1], g[3]]);
  same(vars[3], ref[3], 'head');
  same(vars[0], ref[0], 'encoder');
});

// ---------------------------------------------------------------- numbers

test('everything routed to one Adam is bit-identical to that Adam alone (dense and sparse, several steps, its own options)', () => {
  for (const options of [{}, { clipnorm: 0.5, weightDecay: 0.01 }, { globalClipnorm: 0.3, useEma: true }, { gradientAccumulationSteps: 2, clipvalue: 0.1 }]) {
    const a = model();
    const b = model();
    const m = new MultiOptimizer(new Adam({ learningRate: 0.01, ...options }));
    const adam = new Adam({ learningRate: 0.01, ...options });
    for (let s = 0; s < 6; s++) {
      m.applyGradients(grads(a, s));
      adam.applyGradients(grads(b, s));
    }
    sameModel(a, b, JSON.stringify(options));
    const inner = m.optimizers[0];
    for (const v of ['m', 'v']) a.forEach((x, i) => same(inner.getSlot(x, v), adam.getSlot(b[i], v), `slot ${v}`));
    assert.is(inner.iterations, adam.iterations);
  }
});

test('two groups equal two separate optimizers on the two groups (dense and sparse, several steps)', () => {
  const a = model();
  const b = model();
  const m = new MultiOptimizer(new OptimizerMap(new AdamW({ learningRate: 0.01, weightDecay: 0.1 }), { 'encoder/.*': new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true }) }));
  const sgd = new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true });
  const adamw = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
  for (let s = 0; s < 5; s++) {
    m.applyGradients(grads(a, s));
    const g = grads(b, s);
    sgd.applyGradients([g[0], g[1]]);
    adamw.applyGradients([g[2], g[3]]);
  }
  sameModel(a, b, 'groups');
  same(m.getSlot(a[0], 'momentum'), sgd.getSlot(b[0], 'momentum'));
  same(m.getSlot(a[2], 'v'), adamw.getSlot(b[2], 'v'));
});

test('globalClipnorm on the MultiOptimizer uses the norm of ALL gradients: bit-identical to one optimizer with it (SIMD and scalar)', () => {
  for (const [clip, scale, simd] of [[0.05, 1, true], [1e3, 1, true], [0.2, 64, true], [0.05, 1, false], [0.2, 64, false]]) {
    setSimdEnabled(simd);
    for (const sparse of [false, true]) {
      const a = model();
      const b = model();
      // Two Adams with the same settings, one per group, against one Adam with globalClipnorm.
      const m = new MultiOptimizer(new OptimizerMap(new Adam({ learningRate: 0.01 }), { 'encoder/.*': new Adam({ learningRate: 0.01 }) }), {
        globalClipnorm: clip, ...(scale !== 1 ? { lossScaleFactor: scale } : {}),
      });
      const single = new Adam({ learningRate: 0.01, globalClipnorm: clip, ...(scale !== 1 ? { lossScaleFactor: scale } : {}) });
      for (let s = 0; s < 4; s++) {
        m.applyGradients(grads(a, s, { sparse, scale }));
        single.applyGradients(grads(b, s, { sparse, scale }));
      }
      sameModel(a, b, `clip ${clip} scale ${scale} sparse ${sparse} simd ${simd}`);
    }
  }
  setSimdEnabled(true);
});

test('lossScaleFactor on the MultiOptimizer unscales before routing: bit-identical to the inner optimizers with it', () => {
  const a = model();
  const b = model();
  const m = new MultiOptimizer(new OptimizerMap(new Adam({ learningRate: 0.01 }), { 'encoder/.*': new SGD({ learningRate: 0.1, momentum: 0.5 }) }), { lossScaleFactor: 128 });
  const sgd = new SGD({ learningRate: 0.1, momentum: 0.5, lossScaleFactor: 128 });
  const adam = new Adam({ learningRate: 0.01, lossScaleFactor: 128 });
  for (let s = 0; s < 4; s++) {
    m.applyGradients(grads(a, s, { scale: 128 }));
    const g = grads(b, s, { scale: 128 });
    sgd.applyGradients([g[0], g[1]]);
    adam.applyGradients([g[2], g[3]]);
  }
  sameModel(a, b, 'loss scale');
});

test('a gradient that is a view of another group\'s variable reads as it was when the step began', () => {
  for (const [order, options] of [[0, {}], [1, {}], [0, { globalClipnorm: 0.5, lossScaleFactor: 2 }]]) {
    const mk = () => {
      const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'encoder/w' });
      const u = new Variable(new Float32Array([0.5, -0.5, 0.25, -0.25]), { name: 'head/u' });
      return [w, u];
    };
    const [w1, u1] = mk();
    const [w2, u2] = mk();
    const make = () => new MultiOptimizer(new OptimizerMap(new Adam({ learningRate: 0.1 }), { 'encoder/.*': new SGD({ learningRate: 0.5 }) }), options);
    const m1 = make();
    const m2 = make();
    for (let s = 0; s < 3; s++) {
      // w's gradient is u's memory (a wasm view), u's is w's: each must see the pre-step values.
      const p1 = [[u1.value, w1], [w1.value, u1]];
      const p2 = [[u2.value.slice(), w2], [w2.value.slice(), u2]];
      m1.applyGradients(order ? p1.reverse() : p1);
      m2.applyGradients(order ? p2.reverse() : p2);
    }
    same(w1, w2, 'w');
    same(u1, u2, 'u');
  }
});

test('an inner optimizer with skipNonFinite skips its own part; the others step', () => {
  const vars = model();
  const before = vars.map((v) => v.value.slice());
  const enc = new SGD({ learningRate: 0.1, skipNonFinite: true });
  const m = new MultiOptimizer(new OptimizerMap(new Adam(), { 'encoder/.*': enc }));
  const g = grads(vars, 0);
  g[0][0][2] = NaN;
  m.applyGradients(g);
  same(vars[0], before[0], 'skipped');
  assert.is(enc.iterations, 0);
  assert.is(m.nonFiniteSkips, 1);
  assert.not.equal(bits(vars[3]), bits(before[3]), 'the other group stepped');
  assert.is(m.iterations, 1);
});

test('Lookahead inside a MultiOptimizer equals it alone on its group', () => {
  const a = model();
  const b = model();
  const m = new MultiOptimizer(new OptimizerMap(new Adam({ learningRate: 0.01 }), { 'encoder/.*': new Lookahead(new SGD({ learningRate: 0.1 }), { syncPeriod: 2 }) }));
  const la = new Lookahead(new SGD({ learningRate: 0.1 }), { syncPeriod: 2 });
  const adam = new Adam({ learningRate: 0.01 });
  for (let s = 0; s < 5; s++) {
    m.applyGradients(grads(a, s));
    const g = grads(b, s);
    la.applyGradients([g[0], g[1]]);
    adam.applyGradients([g[2], g[3]]);
  }
  sameModel(a, b, 'lookahead');
});

// ---------------------------------------------------------------- atomicity

function snapshot(m, vars) {
  const heap = defaultHeap();
  return JSON.stringify([
    vars.map((v) => bits(v)),
    m.iterations, m.optimizers.length, m.optimizers.map((o) => [o.iterations, o.variables.length, o.variables.map((x) => bits(x))]),
    heap.liveBytes,
  ]);
}

test('a step is atomic across inner optimizers: a refusal by any of them (a schedule, a bad gradient, a build) changes nothing anywhere', () => {
  let fail = false;
  const cases = [
    ['a schedule of the last inner optimizer', () => {
      fail = true;
    }, (vars) => grads(vars, 1)],
    ['a bad gradient for a variable of the last group', () => {}, (vars) => {
      const g = grads(vars, 1);
      g[3][0] = new Float32Array(3);
      return g;
    }],
    ['a bad sparse index', () => {}, (vars) => {
      const g = grads(vars, 1);
      g[2][0] = { indices: [99], values: new Float32Array(4) };
      return g;
    }],
  ];
  for (const [label, arm, bad] of cases) {
    fail = false;
    const vars = model();
    for (const globalClipnorm of [undefined, 0.1]) {
      const late = new Adam({ learningRate: () => (fail ? NaN : 0.01) });
      const m = new MultiOptimizer(new OptimizerMap(late, { 'encoder/.*': new SGD({ learningRate: 0.1, momentum: 0.9 }), 'embedding/.*': new RMSprop() }), globalClipnorm ? { globalClipnorm } : {});
      m.applyGradients(grads(vars, 0));
      const fresh = new Variable(new Float32Array(4), { name: 'encoder/new' });
      const s0 = snapshot(m, vars);
      arm();
      const pairs = bad(vars);
      pairs.unshift([new Float32Array(4).fill(1), fresh]); // a new variable too: routed and built, then undone
      try {
        m.applyGradients(pairs);
        assert.unreachable(label);
      } catch (e) {
        assert.not.instance(e, assert.Assertion);
      }
      assert.is(snapshot(m, vars), s0, label);
      throws(() => m.getSlot(fresh, 'momentum'), Error, "no slot 'momentum' for variable 'encoder/new'");
      fail = false;
      m.applyGradients(grads(vars, 2)); // and the optimizer still works
      m.dispose();
    }
  }
});

test('a step is atomic: an inner optimizer that skipped its part (non-finite) before a later one refused does not count the skip', () => {
  let fail = false;
  const vars = model();
  const m = new MultiOptimizer(new OptimizerMap(new Adam({ learningRate: () => (fail ? NaN : 0.01) }), { 'encoder/.*': new SGD({ skipNonFinite: true }) }));
  m.applyGradients(grads(vars, 0));
  const s0 = snapshot(m, vars);
  fail = true;
  const g = grads(vars, 1);
  g[0][0][0] = Infinity;
  throws(() => m.applyGradients(g), RangeError, 'learning-rate schedule returned NaN');
  assert.is(m.nonFiniteSkips, 0);
  assert.is(snapshot(m, vars), s0);
});

test('prepare() is atomic across inner optimizers: a build() that throws rolls back the slots the others built', () => {
  class Picky2 extends SGD {
    static className = 'Picky2';
    build(vars) {
      for (const v of vars) if (v.name.includes('bad')) throw new Error('Picky2: no');
      super.build(vars);
    }
  }
  const vars = model();
  const m = new MultiOptimizer(new OptimizerMap(new Picky2({ momentum: 0.9 }), { 'encoder/.*': new Lookahead(new Adam()) }));
  const bad = new Variable(new Float32Array(2), { name: 'head/bad' });
  const s0 = snapshot(m, vars);
  throws(() => m.prepare([...vars, bad]), Error, 'Picky2: no');
  assert.is(snapshot(m, vars), s0);
  throws(() => m.getSlot(vars[0], 'm'), Error, "no slot 'm'");
  m.prepare(vars); // and it still works
  m.applyGradients(grads(vars, 0));
  assert.is(m.optimizers[0].iterations, 1);
});

test('a step is atomic: a build() that throws in the last inner optimizer rolls back the first ones\' slots and counters', () => {
  class Picky extends SGD {
    static className = 'Picky';
    build(vars) {
      for (const v of vars) if (v.name.includes('bad')) throw new Error('Picky: no');
      super.build(vars);
    }
  }
  const vars = model();
  const m = new MultiOptimizer(new OptimizerMap(new Picky({ momentum: 0.9 }), { 'encoder/.*': new Adam() }));
  m.applyGradients(grads(vars, 0));
  const e1 = new Variable(new Float32Array(2), { name: 'encoder/e1' });
  const bad = new Variable(new Float32Array(2), { name: 'head/bad' });
  const s0 = snapshot(m, vars);
  throws(() => m.applyGradients([[new Float32Array(2).fill(1), e1], ...grads(vars, 1), [new Float32Array(2).fill(1), bad]]), Error, 'Picky: no');
  assert.is(snapshot(m, vars), s0);
});

// ---------------------------------------------------------------- config and state

test('getConfig/fromConfig: the inner optimizers and the map (a shared optimizer stays shared)', () => {
  const shared = new Adam({ learningRate: 0.003 });
  const m = new MultiOptimizer(new OptimizerMap(new SGD({ learningRate: 0.2 }), { 'encoder/.*': shared, 'head/kernel': shared, '1': new RMSprop() }), { globalClipnorm: 2, name: 'm' });
  const config = JSON.parse(JSON.stringify(m.getConfig()));
  const r = MultiOptimizer.fromConfig(config);
  assert.equal(r.getConfig(), m.getConfig());
  assert.is(r.optimizers.length, 3);
  assert.is(r.optimizerMap.get('head/kernel'), r.optimizerMap.get('encoder/x'));
  assert.equal(r.optimizers.map((o) => o.getClassName()), m.optimizers.map((o) => o.getClassName()));
  const d = deserialize({ className: 'MultiOptimizer', config });
  assert.instance(d, MultiOptimizer);
  throws(() => MultiOptimizer.fromConfig({}), TypeError, "config.optimizerMap must be { className: 'OptimizerMap', config }");
});

test('saveState / fromCheckpoint / loadState: continuing after a restore equals the uninterrupted run, bitwise', () => {
  const make = () => new MultiOptimizer(new OptimizerMap(new Nadam({ learningRate: 0.01 }), { 'encoder/.*': new SGD({ learningRate: 0.1, momentum: 0.9 }), 'embedding/.*': new Adam({ useEma: true }) }), { lossScaleFactor: 4, globalClipnorm: 0.5 });
  const a = model();
  const m = make();
  for (let s = 0; s < 3; s++) m.applyGradients(grads(a, s));
  // Only the head steps once more: the inner optimizers' counters differ.
  m.applyGradients([grads(a, 3)[3]]);
  const bytes = m.saveState();
  const b = model();
  a.forEach((v, i) => b[i].assign(v.value));
  const r1 = Optimizer.fromCheckpoint(bytes, b);
  const c = model();
  a.forEach((v, i) => c[i].assign(v.value));
  const r2 = Optimizer.fromCheckpoint(bytes); // deferred: each slot restored when it is built
  const d = model();
  a.forEach((v, i) => d[i].assign(v.value));
  const r3 = make();
  r3.loadState(bytes, d);
  assert.equal(r1.optimizers.map((o) => o.iterations), m.optimizers.map((o) => o.iterations));
  assert.is(r1.iterations, 4);
  for (let s = 4; s < 8; s++) {
    m.applyGradients(grads(a, s));
    r1.applyGradients(grads(b, s));
    r2.applyGradients(grads(c, s));
    r3.applyGradients(grads(d, s));
  }
  sameModel(a, b, 'fromCheckpoint(bytes, variables)');
  sameModel(a, c, 'fromCheckpoint(bytes)');
  sameModel(a, d, 'loadState');
  assert.equal(bits(m.variables.flatMap((v) => Array.from(v.value))), bits(r1.variables.flatMap((v) => Array.from(v.value))));
});

test('state: inner optimizers\' own variables (even named with a "/") are kept apart per optimizer', () => {
  class Tally extends Optimizer {
    static className = 'Tally';
    build() {
      this.total ??= this.addVariable('tally/total', [1], 0);
    }
    updateStep(g, v, lr) {
      const w = v.value;
      for (let i = 0; i < w.length; i++) w[i] -= lr * g[i];
      this.total.value[0] += 1;
    }
  }
  registerClass(Tally);
  const make = () => new MultiOptimizer(new OptimizerMap(new Tally({ learningRate: 0.1 }), { 'encoder/.*': new Tally({ learningRate: 0.2 }) }));
  const a = model();
  const m = make();
  for (let s = 0; s < 3; s++) m.applyGradients(grads(a, s, { sparse: false }));
  const state = m.getState();
  assert.ok('optimizer_0:tally/total' in state.variables && 'optimizer_1:tally/total' in state.variables, Object.keys(state.variables).join());
  assert.equal(Array.from(state.variables['optimizer_0:tally/total'].values), [6]);
  const b = model();
  const r = Optimizer.fromCheckpoint(m.saveState(), b);
  assert.equal(JSON.stringify(r.getState()), JSON.stringify(state));
  const c = model();
  const deferred = make();
  deferred.setState(state);
  deferred.applyGradients(grads(c, 0, { sparse: false }));
  assert.equal(Array.from(deferred.getState().variables['optimizer_1:tally/total'].values), [8]);
});

test('getState/setState round-trip; a state that does not fit is refused and changes nothing', () => {
  const make = () => new MultiOptimizer(new OptimizerMap(new Adam(), { 'encoder/.*': new SGD({ momentum: 0.9 }) }));
  const a = model();
  const m = make();
  for (let s = 0; s < 2; s++) m.applyGradients(grads(a, s));
  const state = m.getState();
  assert.ok('optimizer_0:iterations' in state.variables);
  assert.ok('encoder/dense/kernel/momentum' in state.variables);
  const b = model();
  const r = make();
  r.setState(state, b);
  assert.equal(JSON.stringify(r.getState()), JSON.stringify(state));
  const s0 = snapshot(r, b);
  const broken = { ...state, variables: { ...state.variables } };
  delete broken.variables['head/kernel/v'];
  throws(() => r.setState(broken, b), Error, "lacks 'head/kernel/v'");
  assert.is(snapshot(r, b), s0);
  throws(() => r.setState({ ...state, className: 'Adam' }), Error, 'the state belongs to a Adam, not a MultiOptimizer');
  throws(() => new MultiOptimizer(() => new Adam()).setState(state), Error, "the state has 'optimizer_0:iterations', which this optimizer does not have");
});

test('zero allocation per steady-state step (dense, sparse, with global clipping and loss scale)', () => {
  for (const config of [0, 1, 2, 3, 4]) {
    const out = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', repoFile('test', 'helpers', 'multi-alloc-probe.mjs'), String(config)], { encoding: 'utf8' });
    assert.is(out.status, 0, out.stderr);
    const r = JSON.parse(out.stdout);
    assert.is(r.collections, 0, `${r.label}: ${r.heapPerStep} B/step`);
  }
});

test('finalizeVariableValues and excludeFromWeightDecay go to the inner optimizers', () => {
  const a = model();
  const b = model();
  const m = new MultiOptimizer(new OptimizerMap(new AdamW({ learningRate: 0.01, weightDecay: 0.5, useEma: true }), { 'encoder/.*': new SGD({ learningRate: 0.1, useEma: true }) }));
  m.excludeFromWeightDecay({ names: ['bias'] });
  const adamw = new AdamW({ learningRate: 0.01, weightDecay: 0.5, useEma: true });
  adamw.excludeFromWeightDecay({ names: ['bias'] });
  const sgd = new SGD({ learningRate: 0.1, useEma: true });
  for (let s = 0; s < 3; s++) {
    m.applyGradients(grads(a, s));
    const g = grads(b, s);
    sgd.applyGradients([g[0], g[1]]);
    adamw.applyGradients([g[2], g[3]]);
  }
  m.finalizeVariableValues([a[0], a[3]]);
  sgd.finalizeVariableValues([b[0]]);
  adamw.finalizeVariableValues([b[3]]);
  sameModel(a, b, 'some finalized');
  m.finalizeVariableValues();
  sgd.finalizeVariableValues();
  adamw.finalizeVariableValues();
  sameModel(a, b, 'all finalized');
});

test('dispose frees the inner optimizers and every buffer', () => {
  const heap = defaultHeap();
  const vars = model();
  const live = heap.liveBytes;
  const m = new MultiOptimizer(new OptimizerMap(new Adam(), { 'encoder/.*': new SGD({ momentum: 0.9 }) }), { globalClipnorm: 1 });
  for (let s = 0; s < 2; s++) m.applyGradients(grads(vars, s));
  const inner = m.optimizers;
  m.dispose();
  assert.ok(inner.every((o) => o.disposed));
  assert.is(heap.liveBytes, live);
  throws(() => m.applyGradients(grads(vars, 3)), Error, 'MultiOptimizer.applyGradients: the optimizer was disposed');
});

test.run();
