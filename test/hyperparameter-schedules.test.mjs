// Issue #13: hyperparameters other than the learning rate that follow a schedule (weightDecay),
// evaluated at the learning rate's step and rounded to float32 alike.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, Variable, Optimizer, SGD, Adam, AdamW, RMSprop, Nadam, Lion, Yogi, Adamax, Lamb, RAdam, LazyAdam, ExponentialDecay, LinearSchedule, OneCycle, Lookahead } from '../build/index.js';

await ready();
const f = Math.fround;
const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

test('weightDecay as a function of the step: w -= w * fround(fround(wd(t)) * fround(lr)) before the update', () => {
  const wd = (t) => [0.1, 0.25, 1 / 3][t];
  const w = new Variable(new Float32Array([1, -2, 3]), { name: 'w' });
  const opt = new SGD({ learningRate: 0.5, weightDecay: wd });
  const expected = Float32Array.from(w.value);
  for (let t = 0; t < 3; t++) {
    assert.is(opt.weightDecay, f(wd(t)), `the getter gives the next update's value (step ${t})`);
    opt.applyGradients([[new Float32Array(3), w]]);
    const c = f(f(wd(t)) * f(0.5));
    for (let i = 0; i < 3; i++) expected[i] = f(expected[i] - f(expected[i] * c));
  }
  assert.equal(bits(w.value), bits(expected));
  assert.is(typeof opt.weightDecaySchedule, 'function');
  w.dispose();
});

test('a constant weightDecay gives the same bits as a schedule that returns it', () => {
  const run = (wd) => {
    const w = new Variable(new Float32Array([0.3, -0.7, 1.1, 2]), { name: 'w' });
    const opt = new AdamW({ learningRate: 0.01, weightDecay: wd });
    for (let t = 0; t < 5; t++) opt.applyGradients([[new Float32Array([0.1, -0.2, 0.3, -0.4]), w]]);
    const out = bits(w.value);
    w.dispose();
    return out;
  };
  assert.equal(run(0.04), run(() => 0.04));
  assert.equal(run(0.04), run(new LinearSchedule({ initialValue: 0.04, endValue: 0.04, transitionSteps: 10 })));
});

test('a weightDecay schedule survives getConfig/fromConfig and a checkpoint (bit-exact resume)', () => {
  const schedule = new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 2, decayRate: 0.5 });
  const make = () => new Adam({ learningRate: 0.05, weightDecay: schedule });
  const grads = Array.from({ length: 6 }, (_, t) => new Float32Array([Math.sin(t), Math.cos(t)]));
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const full = make();
  for (const g of grads) full.applyGradients([[g, w]]);
  const config = full.getConfig();
  assert.equal(config.weightDecay, { className: 'ExponentialDecay', config: schedule.getConfig() });
  const rebuilt = Adam.fromConfig(config);
  assert.ok(rebuilt.weightDecaySchedule instanceof ExponentialDecay);
  assert.equal(rebuilt.getConfig(), config);
  const w2 = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const first = make();
  for (const g of grads.slice(0, 3)) first.applyGradients([[g, w2]]);
  const resumed = Optimizer.fromCheckpoint(first.saveState(), [w2]);
  for (const g of grads.slice(3)) resumed.applyGradients([[g, w2]]);
  assert.equal(bits(w2.value), bits(w.value));
  for (const x of [w, w2, full, first, resumed, rebuilt]) x.dispose();
});

test('a weightDecay schedule sees the raw call count under gradient accumulation, as the learning rate does', () => {
  const seen = { lr: [], wd: [] };
  const w = new Variable(new Float32Array([1]), { name: 'w' });
  const opt = new SGD({
    learningRate: (t) => (seen.lr.push(t), 0.1),
    weightDecay: (t) => (seen.wd.push(t), 0.01),
    gradientAccumulationSteps: 2,
  });
  for (let i = 0; i < 4; i++) opt.applyGradients([[new Float32Array([1]), w]]);
  assert.equal(seen.lr, [0, 1, 2, 3]);
  assert.equal(seen.wd, [0, 1, 2, 3]);
  assert.is(opt.iterations, 2);
  w.dispose();
});

test('a weightDecay schedule that returns a bad value is refused before anything is written', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  for (const bad of [-1, NaN, 1e39, '0.1']) {
    const opt = new SGD({ weightDecay: () => bad });
    assert.throws(() => opt.applyGradients([[new Float32Array([1, 1]), w]]), /the weight-decay schedule returned .* at step 0; expected a finite number >= 0 representable in float32/);
    assert.equal(Array.from(w.value), [1, 2]);
    assert.is(opt.iterations, 0);
  }
  assert.throws(() => new SGD({ weightDecay: 1e39 }), /representable in float32/);
  assert.throws(() => new Lookahead(new SGD(), { weightDecay: () => 0.1 }), /belongs on the inner optimizer/);
  w.dispose();
});

test('SGD momentum as a schedule: the Keras update with each step\'s float32 momentum (float64 reference)', () => {
  const mom = (t) => 0.5 + 0.1 * (t % 4);
  const w = new Variable(new Float32Array([1, -2, 0.5]), { name: 'w' });
  const opt = new SGD({ learningRate: 0.1, momentum: mom });
  const ref = Float64Array.from(w.value);
  const m = new Float64Array(3);
  for (let t = 0; t < 8; t++) {
    const g = [Math.sin(t), Math.cos(t), 0.3];
    assert.is(opt.momentum, f(mom(t)));
    opt.applyGradients([[Float32Array.from(g), w]]);
    for (let i = 0; i < 3; i++) {
      m[i] = f(mom(t)) * m[i] - f(0.1) * f(g[i]);
      ref[i] += m[i];
    }
  }
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(w.value[i] - ref[i]) <= 1e-6 * Math.max(1, Math.abs(ref[i])), `w[${i}]: ${w.value[i]} vs ${ref[i]}`);
  assert.equal(opt.variables.map((v) => v.name), ['w/momentum'], 'a scheduled momentum keeps a slot');
  w.dispose();
});

test('a schedule that gives a momentum of 0 still keeps the slot (SGD, RMSprop) and a beta1 of 0 keeps Yogi\'s first moment', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  for (const opt of [new SGD({ momentum: () => 0 }), new RMSprop({ momentum: () => 0 }), new Yogi({ beta1: () => 0 })]) {
    opt.applyGradients([[new Float32Array([1, 1]), w]]);
    assert.ok(opt.variables.some((v) => /\/(momentum|m)$/.test(v.name)), opt.getClassName());
  }
  w.dispose();
});

test('every optimizer with beta1 or momentum accepts a schedule: config round trip and bit-exact resume from a checkpoint', () => {
  const cases = [
    [Adam, 'beta1'], [AdamW, 'beta1'], [LazyAdam, 'beta1'], [Adamax, 'beta1'], [Nadam, 'beta1'], [Lamb, 'beta1'],
    [RAdam, 'beta1'], [Yogi, 'beta1'], [Lion, 'beta1'], [SGD, 'momentum'], [RMSprop, 'momentum'],
  ];
  for (const [C, key] of cases) {
    const schedule = new LinearSchedule({ initialValue: 0.95, endValue: 0.85, transitionSteps: 4 });
    const make = () => new C({ learningRate: 0.01, [key]: schedule });
    const grads = Array.from({ length: 6 }, (_, t) => new Float32Array([Math.sin(t + 1), Math.cos(t)]));
    const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
    const full = make();
    for (const g of grads) full.applyGradients([[g, w]]);
    assert.equal(full.getConfig()[key], { className: 'LinearSchedule', config: schedule.getConfig() }, C.className);
    assert.ok(C.fromConfig(full.getConfig())[`${key}Schedule`] instanceof LinearSchedule, C.className);
    const w2 = new Variable(new Float32Array([1, 2]), { name: 'w' });
    const first = make();
    for (const g of grads.slice(0, 3)) first.applyGradients([[g, w2]]);
    const resumed = Optimizer.fromCheckpoint(first.saveState(), [w2]);
    for (const g of grads.slice(3)) resumed.applyGradients([[g, w2]]);
    assert.equal(bits(w2.value), bits(w.value), C.className);
    assert.is(full[key], f(schedule.call(6)), `${C.className}: the getter gives the next update's value`);
    for (const x of [w, w2, full, first, resumed]) x.dispose();
  }
});

test('OneCycle cycles the learning rate and the momentum together (PyTorch OneCycleLR with cycle_momentum)', () => {
  const cycle = new OneCycle({ maxLearningRate: 0.1, totalSteps: 20 });
  const momentum = cycle.momentum();
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const opt = new SGD({ learningRate: cycle, momentum });
  const seen = [];
  for (let t = 0; t < 20; t++) {
    seen.push([opt.learningRate, opt.momentum]);
    opt.applyGradients([[new Float32Array([0.1, -0.1]), w]]);
  }
  for (let t = 0; t < 20; t++) {
    assert.is(seen[t][0], f(cycle.call(t)));
    assert.is(seen[t][1], f(momentum.call(t)));
  }
  // the momentum falls while the learning rate rises, and back
  assert.ok(seen[0][1] > seen[5][1] && seen[0][0] < seen[5][0]);
  const again = SGD.fromConfig(opt.getConfig());
  assert.equal(again.getConfig(), opt.getConfig());
  w.dispose();
});

test('a beta1 or momentum schedule outside its range is refused at the step, before anything is written', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const adam = new Adam({ beta1: () => 1 });
  assert.throws(() => adam.applyGradients([[new Float32Array([1, 1]), w]]), /Adam: the beta1 schedule at step 0 must be a finite number >= 0 < 1, got 1/);
  const sgd = new SGD({ momentum: () => 1.5 });
  assert.throws(() => sgd.applyGradients([[new Float32Array([1, 1]), w]]), /SGD: the momentum schedule at step 0 must be/);
  assert.throws(() => new SGD({ momentum: () => NaN }).applyGradients([[new Float32Array([1, 1]), w]]), /the momentum schedule returned NaN at step 0/);
  assert.equal(Array.from(w.value), [1, 2]);
  assert.equal(adam.variables.length, 0);
  assert.throws(() => new Adam({ beta1: 0.99999999 }), /representable in float32/);
  w.dispose();
});

test('a subclass declares its own scheduled option (scheduledOption, optionValue, optionSchedule, config)', () => {
  class Signum extends Optimizer {
    static className = 'ScheduledSignum';
    static optionNames = ['beta'];
    constructor(options = {}) {
      super(options);
      this.b = this.scheduledOption('beta', options.beta ?? 0.9, { min: 0, max: 1, maxExclusive: true });
    }
    get beta() {
      return this.optionValue(this.b);
    }
    get betaSchedule() {
      return this.optionSchedule(this.b);
    }
    build(vars) {
      for (const v of vars) this.addVariableFromReference(v, 'm');
    }
    updateStep(g, v) {
      const m = this.getSlot(v, 'm').value;
      const beta = this.b.value; // resolved for this step
      for (let i = 0; i < g.length; i++) m[i] = beta * m[i] + (1 - beta) * g[i];
      this.seen.push(beta);
    }
    getConfig() {
      return { ...super.getConfig(), beta: this.b.config() };
    }
  }
  const w = new Variable(new Float32Array([1]), { name: 'w' });
  const opt = new Signum({ beta: (t) => 0.5 + 0.1 * t });
  opt.seen = [];
  for (let t = 0; t < 3; t++) {
    assert.is(opt.beta, f(0.5 + 0.1 * t));
    opt.applyGradients([[new Float32Array([1]), w]]);
  }
  assert.equal(opt.seen, [0.5, 0.6, 0.7].map(f));
  assert.is(typeof opt.betaSchedule, 'function');
  assert.is(new Signum({ beta: 0.8 }).betaSchedule, null);
  assert.throws(() => new Signum({ beta: 1 }), /ScheduledSignum: beta must be a finite number >= 0 < 1, got 1/);
  w.dispose();
});

test.run();
