// Learning-rate schedules: each against a float64 reference written here from Keras 3's formulas
// (keras-semantics.md §4) at the steps where they change shape, their validation, their config
// round trip (alone and inside an optimizer config) and what an optimizer does with them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ready, Variable, SGD, Adam, LearningRateSchedule, registerClass, deserialize,
  ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts,
} from '../build/index.js';

await ready();

// ---------------------------------------------------------------- float64 references

const ref = {
  ExponentialDecay: (o, s) => {
    const p = s / o.decaySteps;
    return o.initialLearningRate * o.decayRate ** (o.staircase ? Math.floor(p) : p);
  },
  // values[number of boundaries strictly below the step]
  PiecewiseConstantDecay: (o, s) => o.values[o.boundaries.filter((b) => s > b).length],
  PolynomialDecay: (o, s) => {
    const end = o.endLearningRate ?? 1e-4;
    const power = o.power ?? 1;
    let D = o.decaySteps;
    let x = s;
    if (o.cycle) D = o.decaySteps * Math.max(1, Math.ceil(s / o.decaySteps));
    else x = Math.min(s, D);
    return (o.initialLearningRate - end) * (1 - x / D) ** power + end;
  },
  InverseTimeDecay: (o, s) => {
    const p = s / o.decaySteps;
    return o.initialLearningRate / (1 + o.decayRate * (o.staircase ? Math.floor(p) : p));
  },
  CosineDecay: (o, s) => {
    const alpha = o.alpha ?? 0;
    const cosd = (x) => (1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * x) / o.decaySteps)) + alpha;
    if (o.warmupTarget == null) return o.initialLearningRate * cosd(Math.min(s, o.decaySteps));
    const W = o.warmupSteps ?? 0;
    const x = Math.min(s, o.decaySteps + W);
    if (x < W) return o.initialLearningRate + ((o.warmupTarget - o.initialLearningRate) * x) / W;
    return o.warmupTarget * cosd(x - W);
  },
  // Walks the periods one by one (a different route from the closed form the library uses).
  CosineDecayRestarts: (o, s) => {
    const tMul = o.tMul ?? 2;
    const mMul = o.mMul ?? 1;
    const alpha = o.alpha ?? 0;
    let start = 0;
    let len = o.firstDecaySteps;
    let i = 0;
    while (s >= start + len) {
      start += len;
      len *= tMul;
      i++;
    }
    const f = (s - start) / len;
    return o.initialLearningRate * ((1 - alpha) * mMul ** i * 0.5 * (1 + Math.cos(Math.PI * f)) + alpha);
  },
};

const classes = { ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts };

/** [className, options, steps where the schedule changes shape] */
const cases = [
  ['ExponentialDecay', { initialLearningRate: 0.05, decaySteps: 10, decayRate: 0.96 }, [9, 10, 11, 20]],
  ['ExponentialDecay', { initialLearningRate: 0.05, decaySteps: 10, decayRate: 0.96, staircase: true }, [9, 10, 11, 19, 20, 21]],
  ['ExponentialDecay', { initialLearningRate: 1, decaySteps: 2.5, decayRate: 1.01 }, [2, 3, 5]],
  ['PiecewiseConstantDecay', { boundaries: [5, 12], values: [0.1, 0.05, 0.01] }, [4, 5, 6, 11, 12, 13]],
  ['PiecewiseConstantDecay', { boundaries: [0], values: [1, 0] }, [0, 1]],
  ['PolynomialDecay', { initialLearningRate: 0.1, decaySteps: 10 }, [9, 10, 11]],
  ['PolynomialDecay', { initialLearningRate: 0.1, decaySteps: 10, endLearningRate: 0.01, power: 0.5 }, [9, 10, 11]],
  ['PolynomialDecay', { initialLearningRate: 0.1, decaySteps: 10, endLearningRate: 0.01, power: 2, cycle: true }, [9, 10, 11, 19, 20, 21]],
  ['PolynomialDecay', { initialLearningRate: 0.01, decaySteps: 4, endLearningRate: 0.1, power: 0 }, [3, 4, 5]],
  ['InverseTimeDecay', { initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }, [9, 10, 11]],
  ['InverseTimeDecay', { initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true }, [9, 10, 11, 20]],
  ['CosineDecay', { initialLearningRate: 0.1, decaySteps: 20 }, [10, 19, 20, 21]],
  ['CosineDecay', { initialLearningRate: 0.1, decaySteps: 20, alpha: 0.1, warmupSteps: 7 }, [10, 20, 21]], // warmupSteps ignored
  ['CosineDecay', { initialLearningRate: 0, decaySteps: 20, alpha: 0.05, warmupTarget: 0.2, warmupSteps: 8 }, [4, 7, 8, 9, 18, 27, 28, 29]],
  ['CosineDecay', { initialLearningRate: 0.3, decaySteps: 20, warmupTarget: 0.1, warmupSteps: 0 }, [10, 20, 21]],
  ['CosineDecayRestarts', { initialLearningRate: 0.1, firstDecaySteps: 10 }, [5, 9, 10, 11, 29, 30, 31, 69, 70, 71, 149, 150, 151]],
  ['CosineDecayRestarts', { initialLearningRate: 0.1, firstDecaySteps: 10, tMul: 1, mMul: 0.5, alpha: 0.1 }, [9, 10, 11, 19, 20, 21]],
  ['CosineDecayRestarts', { initialLearningRate: 0.1, firstDecaySteps: 8, tMul: 1.5, mMul: 0.9, alpha: 0.2 }, [7, 8, 9, 19, 20, 21, 37, 38, 39, 64, 65, 66]],
  ['CosineDecayRestarts', { initialLearningRate: 1, firstDecaySteps: 3, tMul: 3 }, [2, 3, 4, 11, 12, 13, 38, 39, 40]],
];

const STEPS = [0, 1, 2, 1e3, 123457, 1e6];

function near(actual, expected, what) {
  const tol = 1e-12 * Math.abs(expected) + 1e-300;
  if (!Object.is(actual, expected) && !(Math.abs(actual - expected) <= tol)) assert.unreachable(`${what}: got ${actual}, expected ${expected}`);
}

test('every schedule matches its float64 reference at 0, 1, its boundaries (+-1) and far past the end', () => {
  for (const [name, options, steps] of cases) {
    const s = new classes[name](options);
    for (const step of [...STEPS, ...steps]) near(s.call(step), ref[name](options, step), `${name} ${JSON.stringify(options)} at step ${step}`);
  }
});

test('known values (independent of the references above)', () => {
  const exp = new ExponentialDecay({ initialLearningRate: 0.05, decaySteps: 10, decayRate: 0.96, staircase: true });
  near(exp.call(0), 0.05, 'exp 0');
  near(exp.call(9), 0.05, 'exp 9');
  near(exp.call(10), 0.048, 'exp 10');
  near(exp.call(25), 0.05 * 0.96 * 0.96, 'exp 25');
  near(new ExponentialDecay({ initialLearningRate: 0.05, decaySteps: 10, decayRate: 0.96 }).call(5), 0.05 * Math.sqrt(0.96), 'exp smooth 5');
  const pw = new PiecewiseConstantDecay({ boundaries: [100000, 110000], values: [1, 0.5, 0.1] });
  assert.equal([0, 100000, 100001, 110000, 110001].map((k) => pw.call(k)), [1, 1, 0.5, 0.5, 0.1]);
  const poly = new PolynomialDecay({ initialLearningRate: 0.1, decaySteps: 10, endLearningRate: 0.01, cycle: true });
  near(poly.call(0), 0.1, 'poly 0');
  near(poly.call(5), 0.055, 'poly 5');
  near(poly.call(10), 0.01, 'poly 10 (end of the first cycle)');
  near(poly.call(11), 0.01 + 0.09 * 0.45, 'poly 11 (second cycle, D = 20)');
  near(new PolynomialDecay({ initialLearningRate: 0.1, decaySteps: 10 }).call(1e6), 1e-4, 'poly end default');
  near(new InverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.5 }).call(2), 0.05, 'inverse 2');
  const cos = new CosineDecay({ initialLearningRate: 0.2, decaySteps: 100, alpha: 0.1 });
  near(cos.call(50), 0.2 * 0.55, 'cosine half-way');
  near(cos.call(100), 0.02, 'cosine end = alpha * lr0');
  near(cos.call(1e6), 0.02, 'cosine after the end');
  const warm = new CosineDecay({ initialLearningRate: 0, decaySteps: 100, warmupTarget: 0.1, warmupSteps: 10 });
  near(warm.call(5), 0.05, 'warmup half-way');
  near(warm.call(10), 0.1, 'warmup end = target');
  near(warm.call(60), 0.05, 'decay half-way after warmup');
  near(warm.call(110), 0, 'end of decay');
  const sgdr = new CosineDecayRestarts({ initialLearningRate: 0.1, firstDecaySteps: 10, mMul: 0.5, alpha: 0.2 });
  // restart i starts at 0.1 * ((1 - alpha) * mMul^i + alpha)
  for (const [step, i] of [[0, 0], [10, 1], [30, 2], [70, 3], [150, 4], [310, 5], [630, 6]]) {
    near(sgdr.call(step), 0.1 * (0.8 * 0.5 ** i + 0.2), `restart ${i} at step ${step}`);
  }
  near(sgdr.call(5), 0.1 * (0.8 * 0.5 + 0.2), 'middle of the first period');
  near(sgdr.call(20), 0.1 * (0.8 * 0.5 * 0.5 + 0.2), 'middle of the second period');
});

test('every restart step of CosineDecayRestarts starts a new period (no float rounding across the start)', () => {
  for (const [tMul, first] of [[2, 1], [2, 7], [3, 1], [1.5, 8], [10, 1], [1, 5]]) {
    const s = new CosineDecayRestarts({ initialLearningRate: 1, firstDecaySteps: first, tMul, mMul: 1 });
    let start = 0;
    let len = first;
    let prev = 0; // length of the previous period
    for (let i = 0; start < 1e7; i++) {
      if (Number.isInteger(start)) {
        assert.is(s.call(start), 1, `tMul ${tMul}: step ${start} starts period ${i}`);
        if (prev > 1) assert.ok(s.call(start - 1) < 0.99, `tMul ${tMul}: step ${start - 1} is the end of period ${i - 1}`);
      }
      start += len;
      prev = len;
      len *= tMul;
    }
  }
});

test('validation: clear errors naming the option', () => {
  const bad = [
    [ExponentialDecay, { initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.9 }, RangeError, 'decaySteps'],
    [ExponentialDecay, { initialLearningRate: 0.1, decaySteps: -5, decayRate: 0.9 }, RangeError, 'decaySteps'],
    [ExponentialDecay, { initialLearningRate: 0.1, decaySteps: 10 }, TypeError, 'decayRate'],
    [ExponentialDecay, { initialLearningRate: 0.1, decaySteps: 10, decayRate: -0.5 }, RangeError, 'decayRate'],
    [ExponentialDecay, { initialLearningRate: NaN, decaySteps: 10, decayRate: 0.9 }, TypeError, 'initialLearningRate'],
    [ExponentialDecay, { initialLearningRate: -1, decaySteps: 10, decayRate: 0.9 }, RangeError, 'initialLearningRate'],
    [ExponentialDecay, { initialLearningRate: '0.1', decaySteps: 10, decayRate: 0.9 }, TypeError, 'initialLearningRate'],
    [ExponentialDecay, { initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.9, staircase: 1 }, TypeError, 'staircase'],
    [ExponentialDecay, null, TypeError, 'options'],
    [PiecewiseConstantDecay, { boundaries: [10, 5], values: [1, 2, 3] }, RangeError, 'strictly increasing'],
    [PiecewiseConstantDecay, { boundaries: [10, 10], values: [1, 2, 3] }, RangeError, 'strictly increasing'],
    [PiecewiseConstantDecay, { boundaries: [10, 20], values: [1, 2] }, RangeError, 'values'],
    [PiecewiseConstantDecay, { boundaries: [10], values: [1, 2, 3] }, RangeError, 'values'],
    [PiecewiseConstantDecay, { boundaries: [], values: [1] }, TypeError, 'boundaries'],
    [PiecewiseConstantDecay, { boundaries: [Infinity], values: [1, 2] }, TypeError, 'boundaries[0]'],
    [PiecewiseConstantDecay, { boundaries: [5], values: [1, -2] }, RangeError, 'values[1]'],
    [PiecewiseConstantDecay, { boundaries: [5], values: [1, NaN] }, TypeError, 'values[1]'],
    [PolynomialDecay, { initialLearningRate: 0.1, decaySteps: 0 }, RangeError, 'decaySteps'],
    [PolynomialDecay, { initialLearningRate: 0.1, decaySteps: 10, endLearningRate: -1 }, RangeError, 'endLearningRate'],
    [PolynomialDecay, { initialLearningRate: 0.1, decaySteps: 10, power: -1 }, RangeError, 'power'],
    [PolynomialDecay, { initialLearningRate: 0.1, decaySteps: 10, cycle: 'yes' }, TypeError, 'cycle'],
    [InverseTimeDecay, { initialLearningRate: 0.1, decaySteps: Infinity, decayRate: 1 }, TypeError, 'decaySteps'],
    [InverseTimeDecay, { initialLearningRate: 0.1, decaySteps: 1, decayRate: -1 }, RangeError, 'decayRate'],
    [CosineDecay, { initialLearningRate: 0.1, decaySteps: 0 }, RangeError, 'decaySteps'],
    [CosineDecay, { initialLearningRate: 0.1, decaySteps: 10, alpha: -0.1 }, RangeError, 'alpha'],
    [CosineDecay, { initialLearningRate: 0.1, decaySteps: 10, warmupTarget: -1, warmupSteps: 5 }, RangeError, 'warmupTarget'],
    [CosineDecay, { initialLearningRate: 0.1, decaySteps: 10, warmupTarget: 1, warmupSteps: -5 }, RangeError, 'warmupSteps'],
    [CosineDecay, { initialLearningRate: 0.1, decaySteps: 10, warmupTarget: 1, warmupSteps: NaN }, TypeError, 'warmupSteps'],
    [CosineDecayRestarts, { initialLearningRate: 0.1, firstDecaySteps: 0 }, RangeError, 'firstDecaySteps'],
    [CosineDecayRestarts, { initialLearningRate: 0.1, firstDecaySteps: 10, tMul: 0.5 }, RangeError, 'tMul'],
    [CosineDecayRestarts, { initialLearningRate: 0.1, firstDecaySteps: 10, mMul: -1 }, RangeError, 'mMul'],
    [CosineDecayRestarts, { initialLearningRate: 0.1, firstDecaySteps: 10, alpha: -1 }, RangeError, 'alpha'],
  ];
  for (const [Cls, options, Err, word] of bad) {
    let err;
    try {
      new Cls(options);
    } catch (e) {
      err = e;
    }
    const label = `${Cls.className} ${JSON.stringify(options)}`;
    assert.ok(err instanceof Err, `${label}: expected a ${Err.name}, got ${err}`);
    assert.ok(err.message.includes(word) && err.message.includes(Cls.className), `${label}: message '${err.message}' should name ${word}`);
  }
});

test('config round trip: every option, JSON-able, standalone and through deserialize', () => {
  for (const [name, options] of cases) {
    const s = new classes[name](options);
    const config = s.getConfig();
    const json = JSON.parse(JSON.stringify(config));
    assert.equal(json, config, `${name}: config is JSON-able`);
    for (const key of Object.keys(options)) assert.equal(config[key], options[key], `${name}: config.${key}`);
    const back = [classes[name].fromConfig(json), deserialize({ className: s.getClassName(), config: json })];
    for (const b of back) {
      assert.instance(b, classes[name]);
      assert.equal(b.getConfig(), config);
      for (const step of [0, 1, 9, 10, 11, 77, 1e6]) assert.is(b.call(step), s.call(step), `${name} at ${step}`);
    }
  }
  // defaults are written out too
  assert.equal(new PolynomialDecay({ initialLearningRate: 0.1, decaySteps: 10 }).getConfig(), {
    initialLearningRate: 0.1, decaySteps: 10, endLearningRate: 1e-4, power: 1, cycle: false,
  });
  assert.equal(new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10 }).getConfig(), {
    initialLearningRate: 0.1, decaySteps: 10, alpha: 0, warmupTarget: null, warmupSteps: 0,
  });
  assert.equal(new CosineDecayRestarts({ initialLearningRate: 0.1, firstDecaySteps: 10 }).getConfig(), {
    initialLearningRate: 0.1, firstDecaySteps: 10, tMul: 2, mMul: 1, alpha: 0,
  });
});

/** Trains two optimizers side by side; their weights and learning rates must stay bit-identical. */
function sameTraining(a, b, steps, label) {
  const wa = new Variable(new Float32Array([0.5, -1, 2]), { name: 'w' });
  const wb = new Variable(new Float32Array([0.5, -1, 2]), { name: 'w' });
  for (let k = 0; k < steps; k++) {
    assert.is(b.learningRate, a.learningRate, `${label}: lr at step ${k}`);
    const g = new Float32Array([0.3, -0.2 + k * 0.01, 0.1]);
    a.applyGradients([[g, wa]]);
    b.applyGradients([[g, wb]]);
  }
  assert.equal(Array.from(wb.value), Array.from(wa.value), `${label}: weights`);
  for (const x of [a, b]) x.dispose();
  for (const x of [wa, wb]) x.dispose();
}

test('an optimizer config holding a schedule round-trips (Adam.fromConfig(getConfig()))', () => {
  for (const [name, options, steps] of cases) {
    const opt = new Adam({ learningRate: new classes[name](options), beta1: 0.8 });
    const config = JSON.parse(JSON.stringify(opt.getConfig()));
    assert.equal(config.learningRate, { className: name, config: new classes[name](options).getConfig() });
    const back = Adam.fromConfig(config);
    assert.instance(back.learningRateSchedule, classes[name]);
    assert.equal(back.getConfig(), opt.getConfig());
    sameTraining(opt, back, Math.max(...steps) + 2, `Adam + ${name}`);
  }
});

test('an optimizer applies lr = schedule(rawStep) each step (SGD on one element: w -= fround(lr) * g exactly)', () => {
  const schedules = [
    new PiecewiseConstantDecay({ boundaries: [3, 7], values: [0.5, 0.25, 0.125] }),
    new CosineDecay({ initialLearningRate: 0.01, decaySteps: 10, alpha: 0.1, warmupTarget: 0.3, warmupSteps: 4 }),
    new CosineDecayRestarts({ initialLearningRate: 0.2, firstDecaySteps: 3, mMul: 0.7 }),
    new ExponentialDecay({ initialLearningRate: 0.05, decaySteps: 3, decayRate: 0.5, staircase: true }),
    new PolynomialDecay({ initialLearningRate: 0.1, decaySteps: 5, power: 2, cycle: true }),
    new InverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 2, decayRate: 1 }),
  ];
  const g = 0.5; // a power of two: lr * g is exact in float32
  for (const schedule of schedules) {
    const opt = new SGD({ learningRate: schedule });
    const w = new Variable(new Float32Array([3]), { name: 'w' });
    for (let step = 0; step < 18; step++) {
      const lr = Math.fround(schedule.call(step));
      assert.is(opt.learningRate, lr, `${schedule.getClassName()}: optimizer.learningRate at step ${step}`);
      const before = w.value[0];
      opt.applyGradients([[new Float32Array([g]), w]]);
      assert.is(w.value[0], Math.fround(before - Math.fround(lr * g)), `${schedule.getClassName()}: w after step ${step}`);
    }
    opt.dispose();
    w.dispose();
  }
});

test('under gradient accumulation the schedule sees the raw step (micro-steps count, as in Keras)', () => {
  const schedule = new PiecewiseConstantDecay({ boundaries: [2, 4], values: [0.5, 0.25, 0.125] });
  const opt = new SGD({ learningRate: schedule, gradientAccumulationSteps: 2 });
  const w = new Variable(new Float32Array([3]), { name: 'w' });
  let expected = 3;
  for (let raw = 0; raw < 10; raw++) {
    opt.applyGradients([[new Float32Array([0.5]), w]]);
    // updates happen on raw steps 1, 3, 5, ... with the mean gradient 0.5 and lr = schedule(raw)
    if (raw % 2 === 1) expected = Math.fround(expected - Math.fround(schedule.call(raw) * 0.5));
    assert.is(w.value[0], expected, `w after raw step ${raw}`);
  }
  assert.is(opt.iterations, 5);
  opt.dispose();
  w.dispose();
});

test('a custom LearningRateSchedule subclass registered with registerClass round-trips too', () => {
  class Halving extends LearningRateSchedule {
    static className = 'test.Halving';
    constructor(options) {
      super();
      this.initialLearningRate = options.initialLearningRate;
      this.every = options.every;
    }
    call(step) {
      return this.initialLearningRate / 2 ** Math.floor(step / this.every);
    }
    getConfig() {
      return { initialLearningRate: this.initialLearningRate, every: this.every };
    }
  }
  const s = new Halving({ initialLearningRate: 0.4, every: 3 });
  const config = JSON.parse(JSON.stringify(new Adam({ learningRate: s }).getConfig()));
  assert.throws(() => Adam.fromConfig(config), /unknown learning-rate schedule class 'test\.Halving'.*registerClass/);
  registerClass(Halving);
  const back = Adam.fromConfig(config);
  assert.instance(back.learningRateSchedule, Halving);
  assert.equal(back.learningRateSchedule.getConfig(), { initialLearningRate: 0.4, every: 3 });
  sameTraining(new Adam({ learningRate: s }), back, 8, 'Adam + Halving');
  assert.instance(deserialize({ className: 'test.Halving', config: s.getConfig() }), Halving);
});

test.run();
