// RMSprop, Adagrad, Adadelta, Ftrl and Lion against their float64 references, Adagrad's sparse
// row scatter, Lion's sign, and option validation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, deserialize, setSimdEnabled, Variable, RMSprop, Adagrad, Adadelta, Ftrl, Lion } from '../build/index.js';
import { baseCombos, combos, conformance, conformanceAll } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';
import { rmsprop } from './reference/rmsprop.mjs';
import { adagrad } from './reference/adagrad.mjs';
import { adadelta } from './reference/adadelta.mjs';
import { ftrl } from './reference/ftrl.mjs';
import { lion } from './reference/lion.mjs';

await ready();

// Every own option takes two values (the learning rate one); every combination of them x all 128 base
// combinations (clipping x decay x EMA x accumulation x loss scale x skipNonFinite).
const BASES = baseCombos();

function full(own) {
  return own.flatMap((o) => BASES.map((b) => ({ ...o, ...b })));
}

const cases = [
  [RMSprop, rmsprop, full(combos({ rho: [0.9, 0.5], momentum: [0, 0.9], epsilon: [1e-7, 1e-3], centered: [false, true], learningRate: [0.01] }))],
  [Adagrad, adagrad, full(combos({ initialAccumulatorValue: [0.1, 0], epsilon: [1e-7, 1e-3], learningRate: [0.05] }))],
  [Adadelta, adadelta, full(combos({ rho: [0.95, 0.5], epsilon: [1e-7, 1e-3], learningRate: [1] }))],
  // Ftrl's linear slot is a running sum: where it cancels to near 0 in the one-element variable, its
  // f32 rounding (as in Keras) exceeds the relative tolerance. These values keep every run of the
  // full cross within 0.4x the tolerance (shrinkage 0.1 with a fixed rate reached 1.9x).
  [
    Ftrl,
    ftrl,
    full(
      combos({
        learningRatePower: [-0.5, -0.2, 0],
        initialAccumulatorValue: [0.1, 1],
        l1RegularizationStrength: [0, 0.05],
        l2RegularizationStrength: [0, 0.1],
        l2ShrinkageRegularizationStrength: [0, 0.01],
        beta: [0, 0.5],
        learningRate: [0.05],
      }),
    ),
  ],
  [Lion, lion, full(combos({ beta1: [0.9, 0.8], beta2: [0.99, 0.9], learningRate: [0.01] }))],
];

for (const [Cls, , runs] of cases) {
  test(`${Cls.className} matches the float64 reference for every own option combination (SIMD == scalar)`, async () => {
    const name = Cls.className.toLowerCase();
    await conformanceAll(Cls.className, [new URL(`./reference/${name}.mjs`, import.meta.url).href, name], runs);
  });
}

test('defaults match Keras 3 (learning rate 0.001 and every default hyperparameter)', () => {
  for (const [Cls, spec] of cases) conformance(Cls, spec, {}, { steps: 10, seed: 7 });
  const defaults = {
    RMSprop: { learningRate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false },
    Adagrad: { learningRate: 0.001, initialAccumulatorValue: 0.1, epsilon: 1e-7 },
    Adadelta: { learningRate: 0.001, rho: 0.95, epsilon: 1e-7 },
    Ftrl: {
      learningRate: 0.001, learningRatePower: -0.5, initialAccumulatorValue: 0.1, l1RegularizationStrength: 0,
      l2RegularizationStrength: 0, l2ShrinkageRegularizationStrength: 0, beta: 0,
    },
    Lion: { learningRate: 0.001, beta1: 0.9, beta2: 0.99 },
  };
  for (const [Cls] of cases) {
    const config = new Cls().getConfig();
    for (const [k, v] of Object.entries(defaults[Cls.className])) assert.is(config[k], v, `${Cls.className}.${k}`);
    assert.is(config.name, Cls.className.toLowerCase());
  }
});

test('config: every option round-trips through JSON and the registry', () => {
  const options = {
    RMSprop: { rho: 0.8, momentum: 0.5, epsilon: 1e-6, centered: true },
    Adagrad: { initialAccumulatorValue: 0.3, epsilon: 1e-5 },
    Adadelta: { rho: 0.7, epsilon: 1e-6 },
    Ftrl: {
      learningRatePower: -0.3, initialAccumulatorValue: 0.2, l1RegularizationStrength: 0.01, l2RegularizationStrength: 0.02,
      l2ShrinkageRegularizationStrength: 0.03, beta: 0.4,
    },
    Lion: { beta1: 0.7, beta2: 0.95 },
  };
  for (const [Cls] of cases) {
    const config = new Cls({ learningRate: 0.02, name: 'x', ...options[Cls.className] }).getConfig();
    for (const [k, v] of Object.entries(options[Cls.className])) assert.is(config[k], v, `${Cls.className}.${k}`);
    const again = deserialize({ className: Cls.className, config: JSON.parse(JSON.stringify(config)) });
    assert.instance(again, Cls);
    assert.equal(again.getConfig(), config);
  }
});

test('state: train N, save, restore into a fresh optimizer, train M == train N+M (every optimizer)', () => {
  for (const [Cls] of cases) {
    const r = rng(5);
    const opts = { learningRate: 0.05, useEma: true, gradientAccumulationSteps: 2 };
    const grads = Array.from({ length: 14 }, () => [r.f32(17), r.f32(6)]);
    const init = [r.f32(17), r.f32(6)];
    const make = (values) => values.map((x, i) => new Variable(x, { name: `w${i}`, shape: i ? [3, 2] : [17] }));
    const train = (o, vs, gs) => gs.forEach(([g0, g1]) => o.applyGradients([[g0, vs[0]], [g1, vs[1]]]));
    const full = make(init);
    const o1 = new Cls(opts);
    train(o1, full, grads);
    const half = make(init);
    const o2 = new Cls(opts);
    train(o2, half, grads.slice(0, 7));
    const saved = JSON.parse(JSON.stringify(o2.getState(), (k, v) => (v instanceof Float32Array ? Array.from(v) : v)));
    const resumed = make(half.map((v) => v.value));
    const o3 = new Cls(opts);
    o3.setState(saved, resumed);
    train(o3, resumed, grads.slice(7));
    full.forEach((v, i) => assert.equal(Array.from(resumed[i].value), Array.from(v.value), `${Cls.className} w${i}`));
    assert.is(o3.iterations, o1.iterations);
    for (const x of [o1, o2, o3, ...full, ...half, ...resumed]) x.dispose();
  }
});

// Unsorted, with a duplicate: the base class sums duplicates before updateStepSparse sees the rows.
const ROWS = 50;
const ROW = 9; // odd: each row has a SIMD part and a scalar tail
const INDICES = Int32Array.from([40, 2, 17, 40, 49]);

function sparseAndDense(options, steps) {
  const r = rng(11);
  const init = r.f32(ROWS * ROW);
  const sparse = new Variable(init, { shape: [ROWS, ROW], name: 'sparse' });
  const dense = new Variable(init, { shape: [ROWS, ROW], name: 'dense' });
  const a = new Adagrad(options);
  const b = new Adagrad(options);
  for (let s = 0; s < steps; s++) {
    const values = r.f32(INDICES.length * ROW, 0.3);
    const densified = new Float32Array(ROWS * ROW);
    INDICES.forEach((row, k) => {
      for (let j = 0; j < ROW; j++) densified[row * ROW + j] += values[k * ROW + j];
    });
    a.applyGradients([[{ indices: INDICES, values }, sparse]]);
    b.applyGradients([[densified, dense]]);
  }
  const out = {
    init,
    sparse: sparse.value.slice(),
    dense: dense.value.slice(),
    sparseAcc: a.getSlot(sparse, 'accumulator').value.slice(),
    denseAcc: b.getSlot(dense, 'accumulator').value.slice(),
  };
  a.dispose();
  b.dispose();
  sparse.dispose();
  dense.dispose();
  return out;
}

const touched = (i) => INDICES.includes(Math.floor(i / ROW));

test('Adagrad: a sparse gradient gives the same bits as the dense update of the densified gradient', () => {
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      const o = sparseAndDense({ learningRate: 0.1 }, 4);
      for (let i = 0; i < ROWS * ROW; i++) {
        assert.ok(Object.is(o.sparse[i], o.dense[i]), `value ${i}: sparse ${o.sparse[i]} != dense ${o.dense[i]}`);
        assert.ok(Object.is(o.sparseAcc[i], o.denseAcc[i]), `accumulator ${i}: sparse ${o.sparseAcc[i]} != dense ${o.denseAcc[i]}`);
        if (!touched(i)) assert.ok(Object.is(o.sparse[i], o.init[i]), `untouched value ${i} changed`);
      }
    } finally {
      setSimdEnabled(true);
    }
  }
});

test('Adagrad: the sparse path never reads or writes untouched rows', () => {
  // With a zero accumulator and epsilon, the dense update of a zero gradient computes 0/0 = NaN, so
  // any untouched row the kernel visited would turn NaN; the sparse path must leave them as they were.
  const o = sparseAndDense({ learningRate: 0.1, initialAccumulatorValue: 0, epsilon: 0 }, 2);
  for (let i = 0; i < ROWS * ROW; i++) {
    if (touched(i)) {
      assert.ok(Object.is(o.sparse[i], o.dense[i]), `touched value ${i}: sparse ${o.sparse[i]} != dense ${o.dense[i]}`);
      assert.ok(Object.is(o.sparseAcc[i], o.denseAcc[i]), `touched accumulator ${i}`);
    } else {
      assert.ok(Number.isNaN(o.dense[i]), `dense value ${i} should be NaN (0/0), got ${o.dense[i]}`);
      assert.ok(Object.is(o.sparse[i], o.init[i]), `untouched value ${i}: ${o.sparse[i]} != ${o.init[i]}`);
      assert.ok(Object.is(o.sparseAcc[i], 0), `untouched accumulator ${i}: ${o.sparseAcc[i]}`);
    }
  }
});

test('Lion: sign(0) = 0 leaves the weight alone and a NaN gradient gives NaN (SIMD and scalar)', () => {
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    try {
      const w = new Variable([1, 1, 1, 1, 1, 1, 1, 1, 1]);
      const opt = new Lion({ learningRate: 0.5 });
      // Lanes 0-3 run in the SIMD loop, 4-8 in the tail (all of them with SIMD off).
      opt.applyGradients([[Float32Array.from([0, NaN, 2, -2, 0, NaN, 3, -3, 0]), w]]);
      assert.equal(Array.from(w.value), [1, NaN, 0.5, 1.5, 1, NaN, 0.5, 1.5, 1]);
      opt.dispose();
      w.dispose();
    } finally {
      setSimdEnabled(true);
    }
  }
});

const invalid = [
  [RMSprop, 'rho', [[1, RangeError], [-0.1, RangeError], [NaN, TypeError]]],
  [RMSprop, 'momentum', [[1.5, RangeError], [-0.1, RangeError], ['0.9', TypeError]]],
  [RMSprop, 'epsilon', [[-1e-7, RangeError], [Infinity, TypeError]]],
  [RMSprop, 'centered', [['yes', TypeError], [1, TypeError]]],
  [Adagrad, 'initialAccumulatorValue', [[-0.1, RangeError], ['0.1', TypeError]]],
  [Adagrad, 'epsilon', [[-1, RangeError], [NaN, TypeError]]],
  [Adadelta, 'rho', [[1, RangeError], [-0.5, RangeError], [Infinity, TypeError]]],
  [Adadelta, 'epsilon', [[-1, RangeError], [true, TypeError]]],
  [Ftrl, 'learningRatePower', [[0.1, RangeError], [NaN, TypeError]]],
  [Ftrl, 'initialAccumulatorValue', [[-0.1, RangeError]]],
  [Ftrl, 'l1RegularizationStrength', [[-0.1, RangeError]]],
  [Ftrl, 'l2RegularizationStrength', [[-0.1, RangeError]]],
  [Ftrl, 'l2ShrinkageRegularizationStrength', [[-0.1, RangeError], ['0', TypeError]]],
  [Ftrl, 'beta', [[-0.1, RangeError], [Infinity, TypeError]]],
  [Lion, 'beta1', [[0, RangeError], [1.1, RangeError], [-0.5, RangeError], [NaN, TypeError]]],
  [Lion, 'beta2', [[-0.1, RangeError], [1.01, RangeError], ['0.99', TypeError]]],
];

test('bad options throw a RangeError or TypeError naming the option', () => {
  for (const [Cls, option, bad] of invalid) {
    for (const [value, Type] of bad) {
      assert.throws(
        () => new Cls({ [option]: value }),
        (e) => e instanceof Type && e.message.includes(`${Cls.className}: ${option}`),
        `${Cls.className}({ ${option}: ${String(value)} }) should throw a ${Type.name} naming ${option}`,
      );
    }
  }
  // The edges Keras accepts.
  new RMSprop({ rho: 0, momentum: 1, epsilon: 0 });
  new Adagrad({ initialAccumulatorValue: 0, epsilon: 0 });
  new Adadelta({ rho: 0, epsilon: 0 });
  new Ftrl({ learningRatePower: 0, initialAccumulatorValue: 0, beta: 0 });
  new Lion({ beta1: 1, beta2: 0 });
  new Lion({ beta1: 1e-9, beta2: 1 });
});

test.run();
