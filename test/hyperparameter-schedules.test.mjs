// Issue #13: hyperparameters other than the learning rate that follow a schedule (weightDecay),
// evaluated at the learning rate's step and rounded to float32 alike.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, Variable, Optimizer, SGD, Adam, AdamW, ExponentialDecay, LinearSchedule, Lookahead } from '../build/index.js';

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

test.run();
