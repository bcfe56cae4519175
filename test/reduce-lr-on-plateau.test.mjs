// Issue #13: ReduceLROnPlateau for custom loops, Keras 3's callback rule, on constants and schedules,
// carried by the optimizer's checkpoints.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, Variable, Optimizer, SGD, Adam, Lookahead, LossScaleOptimizer, ExponentialDecay, ReduceLROnPlateau } from '../build/index.js';

await ready();
const f = Math.fround;

/** Keras' ReduceLROnPlateau.on_epoch_end, transcribed in float64 (the learning rate a float32 variable). */
function kerasPlateau({ factor = 0.1, patience = 10, mode = 'min', minDelta = 1e-4, cooldown = 0, minLr = 0 }, lr0, values) {
  let lr = f(lr0);
  let best = mode === 'min' ? Infinity : -Infinity;
  let wait = 0;
  let cd = 0;
  const out = [];
  for (const current of values) {
    if (cd > 0) {
      cd--;
      wait = 0;
    }
    if (mode === 'min' ? current < best - minDelta : current > best + minDelta) {
      best = current;
      wait = 0;
    } else if (!(cd > 0)) {
      wait++;
      if (wait >= patience) {
        if (lr > f(minLr)) lr = f(Math.max(lr * factor, minLr));
        cd = cooldown;
        wait = 0;
      }
    }
    out.push(lr);
  }
  return out;
}

const LOSSES = [1, 0.9, 0.9, 0.91, 0.95, 0.9, 0.92, 0.8, 0.85, 0.86, 0.87, 0.88, 0.88, 0.89, 0.9, 0.95, 0.7, 0.71, 0.72, 0.73];

test('a constant learning rate follows Keras\' rule: patience, cooldown, minDelta, minLr, both modes', () => {
  const configs = [
    { factor: 0.5, patience: 2 },
    { factor: 0.5, patience: 2, cooldown: 3 },
    { factor: 0.1, patience: 1, minLr: 0.002 },
    { factor: 0.5, patience: 3, minDelta: 0.05 },
    { factor: 0.5, patience: 2, mode: 'max' },
  ];
  for (const options of configs) {
    const opt = new SGD({ learningRate: 0.1 });
    const plateau = new ReduceLROnPlateau(opt, options);
    const values = options.mode === 'max' ? LOSSES.map((x) => -x) : LOSSES;
    const seen = values.map((v) => (plateau.update(v), opt.learningRate));
    const expected = kerasPlateau(options, 0.1, values);
    for (let i = 0; i < seen.length; i++) {
      assert.ok(Math.abs(seen[i] - expected[i]) <= 2e-7 * expected[i], `${JSON.stringify(options)} at update ${i}: ${seen[i]} vs ${expected[i]}`);
    }
  }
});

test('with a schedule, it multiplies the schedule (never crashes on it, unlike Keras)', () => {
  const schedule = new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.9 });
  const w = new Variable(new Float32Array([1]), { name: 'w' });
  const opt = new SGD({ learningRate: schedule });
  const plateau = new ReduceLROnPlateau(opt, { factor: 0.5, patience: 1 });
  plateau.update(1);
  opt.applyGradients([[new Float32Array([0]), w]]);
  assert.is(plateau.update(2), true, 'no improvement with patience 1: reduced');
  for (let t = 1; t < 5; t++) {
    assert.ok(Math.abs(opt.learningRate - f(schedule.call(t) * 0.5)) <= 1e-7 * opt.learningRate, `step ${t}`);
    opt.applyGradients([[new Float32Array([0]), w]]);
  }
  w.dispose();
});

test('its progress is in the optimizer\'s checkpoint: a resumed run continues exactly (also through wrappers)', () => {
  for (const make of [() => new Adam({ learningRate: 0.05 }), () => new Lookahead(new Adam({ learningRate: 0.05 })), () => new LossScaleOptimizer(new Adam({ learningRate: 0.05 }))]) {
    const options = { factor: 0.5, patience: 2, cooldown: 1 };
    const run = (resumeAt) => {
      const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
      let opt = make();
      let plateau = new ReduceLROnPlateau(opt, options);
      const lrs = [];
      for (let epoch = 0; epoch < LOSSES.length; epoch++) {
        if (epoch === resumeAt) {
          const bytes = opt.saveState();
          opt.dispose();
          opt = Optimizer.fromCheckpoint(bytes, [w]);
          plateau = new ReduceLROnPlateau(opt, options); // continues the saved progress
        }
        opt.applyGradients([[new Float32Array([0.1, -0.1]), w]]);
        plateau.update(LOSSES[epoch]);
        lrs.push(opt.learningRate);
      }
      const out = { lrs, w: Array.from(w.value), state: plateau.state };
      w.dispose();
      opt.dispose();
      return out;
    };
    const full = run(-1);
    assert.ok(full.lrs.some((lr) => lr < 0.05), 'the rate was reduced');
    for (const at of [3, 9, 12]) assert.equal(run(at), full, `${make().getClassName()} resumed at epoch ${at}`);
  }
});

test('getState / setState carry it too, and a bad plateau state is refused', () => {
  const opt = new SGD({ learningRate: 0.1 });
  const plateau = new ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
  plateau.update(1);
  plateau.update(2);
  const state = opt.getState();
  assert.equal(state.plateau, { scale: 0.5, best: 1, wait: 0, cooldown: 0 });
  const other = new SGD({ learningRate: 0.1 });
  other.setState(state);
  assert.is(other.learningRate, f(0.05));
  assert.throws(() => other.setState({ ...state, plateau: { scale: 0, best: 1, wait: 0, cooldown: 0 } }), /plateau.scale must be a finite number > 0/);
  assert.throws(() => other.setState({ ...state, plateau: { scale: 1, best: 'x', wait: 0, cooldown: 0 } }), /plateau.best must be a number/);
  assert.is(other.learningRate, f(0.05), 'a refused state changes nothing');
});

test('options are checked: unknown names, Keras snake_case, ranges, the optimizer', () => {
  const opt = new SGD();
  assert.throws(() => new ReduceLROnPlateau(opt, { min_lr: 0.1 }), /unknown option 'min_lr' \(did you mean minLr\?\)/);
  assert.throws(() => new ReduceLROnPlateau(opt, { factor: 1 }), /factor must be a finite number >= 0 < 1, got 1/);
  assert.throws(() => new ReduceLROnPlateau(opt, { patience: 1.5 }), /patience must be an integer/);
  assert.throws(() => new ReduceLROnPlateau(opt, { mode: 'up' }), /mode must be 'auto', 'min' or 'max'/);
  assert.throws(() => new ReduceLROnPlateau({}, {}), /optimizer must be a wasm-optim Optimizer/);
  assert.throws(() => new ReduceLROnPlateau(opt).update('1'), /value must be a number, got the string '1'/);
  assert.is(new ReduceLROnPlateau(new SGD(), { monitor: 'val_accuracy' }).mode, 'max', "'auto' watches accuracy upward");
});

test.run();
