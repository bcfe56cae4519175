// The demo's training, shared by the terminal (run.mjs) and the browser (../demo-web): a Keras-style
// MLP (256-128-10, tfjs-layers) learns the generated digits with model.compile + model.fit, once with
// tf.train.adam and once with each of several wasm-optim optimizers (from `wasm-optim/tfjs`), all from
// the same initial weights and the same batches. Each run records its losses, its time and the part
// of that time spent in the optimizer step.
import { OneCycle } from 'wasm-optim';
import { CLASSES, digits, PIXELS } from './digits.mjs';

export const BATCH = 64;
export const EPOCHS = 3;

/**
 * The runs, the tf.train baseline first. `make({ tf, optim, steps })` returns a tf.Optimizer for
 * model.compile, where `optim` is the `wasm-optim/tfjs` module and `steps` the run's step count.
 * The SGD run follows a one-cycle policy (PyTorch OneCycleLR: warm up to the peak rate over 30% of
 * the steps, cosine down to 1/10^4 of the start), its momentum cycling between 0.85 and 0.95.
 */
export const RUNS = [
  { name: 'tf.train.adam', baseline: true, make: ({ tf }) => tf.train.adam(0.002) },
  { name: 'wasm-optim adam', make: ({ optim }) => optim.adam({ learningRate: 0.002 }) },
  { name: 'wasm-optim adamw', make: ({ optim }) => optim.adamw({ learningRate: 0.002, weightDecay: 0.004 }) },
  { name: 'wasm-optim nadam', make: ({ optim }) => optim.nadam({ learningRate: 0.002 }) },
  { name: 'wasm-optim lion', make: ({ optim }) => optim.lion({ learningRate: 0.001 }) },
  {
    name: 'wasm-optim sgd + OneCycle',
    make: ({ optim, steps }) => {
      const oneCycle = new OneCycle({ maxLearningRate: 0.2, totalSteps: steps });
      return optim.sgd({ learningRate: oneCycle, momentum: oneCycle.momentum(), nesterov: true });
    },
  },
];

/** Train and test sets as tensors (labels one-hot for training). */
export function dataset(tf, { train = 6000, test = 1000 } = {}) {
  const tr = digits(train, 1);
  const te = digits(test, 2);
  return {
    xTrain: tf.tensor2d(tr.images, [train, PIXELS]),
    yTrain: tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(tr.labels, 'int32'), CLASSES), 'float32')),
    xTest: tf.tensor2d(te.images, [test, PIXELS]),
    yTest: te.labels,
    train,
    test,
    stepsPerEpoch: Math.ceil(train / BATCH),
  };
}

function mlp(tfl) {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [PIXELS], units: 128, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }) }),
      tfl.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 8 }) }),
    ],
  });
}

/** A few unrecorded steps first, so the first run does not pay for compiling and warming up tfjs kernels. */
export async function warmUp({ tf, tfl, data }) {
  const model = mlp(tfl);
  const optimizer = tf.train.sgd(0.01);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const x = tf.slice(data.xTrain, [0, 0], [10 * BATCH, PIXELS]);
  const y = tf.slice(data.yTrain, [0, 0], [10 * BATCH, CLASSES]);
  await model.fit(x, y, { batchSize: BATCH, epochs: 1, verbose: 0 });
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
}

/**
 * Trains one run with model.fit. `onBatch(stats)` is called after every batch (it may be async,
 * e.g. to let a page repaint). Resolves the stats: { steps, ms, optimizerMs, losses, accuracy }.
 */
export async function trainRun({ tf, tfl, optim, data, run, epochs = EPOCHS, onBatch, now = () => performance.now() }) {
  const model = mlp(tfl);
  const optimizer = run.make({ tf, optim, steps: epochs * data.stepsPerEpoch });
  // learningRates: the rate of each step, for wasm-optim runs with a schedule (read before the step).
  const scheduled = optimizer.core?.learningRateSchedule != null;
  const stats = { steps: 0, ms: 0, optimizerMs: 0, losses: [], learningRates: scheduled ? [] : null, accuracy: NaN };
  // The optimizer's share of the time: model.fit reaches applyGradients through minimize().
  const apply = optimizer.applyGradients.bind(optimizer);
  optimizer.applyGradients = (grads) => {
    if (scheduled) stats.learningRates.push(optimizer.core.learningRate);
    const t0 = now();
    apply(grads);
    stats.optimizerMs += now() - t0;
  };
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const t0 = now();
  await model.fit(data.xTrain, data.yTrain, {
    batchSize: BATCH,
    epochs,
    shuffle: false, // every run sees the same batches in the same order
    verbose: 0,
    callbacks: {
      onBatchEnd: async (batch, logs) => {
        stats.steps++;
        stats.losses.push(logs.loss);
        stats.ms = now() - t0;
        await onBatch?.(stats);
      },
    },
  });
  stats.ms = now() - t0;
  stats.accuracy = accuracy(tf, model, data);
  optimizer.dispose(); // a user-supplied optimizer is not disposed by model.dispose()
  model.dispose();
  return stats;
}

function accuracy(tf, model, data) {
  const predicted = tf.tidy(() => tf.argMax(model.predict(data.xTest), 1).dataSync());
  let right = 0;
  for (let i = 0; i < data.test; i++) right += predicted[i] === data.yTest[i] ? 1 : 0;
  return right / data.test;
}

/** Mean of the last `k` losses (batch losses are noisy). */
export function recentLoss(losses, k = 20) {
  const tail = losses.slice(-k);
  return tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length);
}

/** The loss curve smoothed (EMA 0.9) as [step, loss] points, at most `maxPoints` of them. */
export function curve(losses, maxPoints = 200) {
  const every = Math.max(1, Math.ceil(losses.length / maxPoints));
  const points = [];
  let ema = losses[0];
  losses.forEach((l, i) => {
    ema = i === 0 ? l : 0.9 * ema + 0.1 * l;
    if (i % every === 0 || i === losses.length - 1) points.push([i + 1, ema]);
  });
  return points;
}

/** The rows of the final table, as strings. */
export function tableRows(results) {
  return results.map(({ run, stats: s }) => ({
    optimizer: run.name,
    'final loss': recentLoss(s.losses).toFixed(4),
    'test acc': `${(100 * s.accuracy).toFixed(1)}%`,
    time: `${(s.ms / 1000).toFixed(2)} s`,
    'steps/s': ((1000 * s.steps) / s.ms).toFixed(0),
    'optimizer step': `${(s.optimizerMs / s.steps).toFixed(3)} ms`,
    'step share': `${((100 * s.optimizerMs) / s.ms).toFixed(1)}%`,
  }));
}
