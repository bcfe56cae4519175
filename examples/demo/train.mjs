// The demo's training, shared by the terminal (run.mjs) and the browser (../demo-web): a Keras-style
// MLP (pixels-128-10, tfjs-layers) learns digits (real MNIST ones from ../data/mnist.mjs, or the
// generated ones of ./digits.mjs where the `mnist` package cannot be loaded) with model.compile +
// model.fit, once with tf.train.adam and once with each of several wasm-optim optimizers (from
// `wasm-optim/tfjs`), all from the same initial weights and the same batches. Each run records its
// losses, its time, the part of that time spent in the optimizer step, and its test accuracy.
import { Adam, OneCycle } from 'wasm-optim';

export const BATCH = 64;
export const EPOCHS = 3;

/**
 * The runs, the tf.train baseline first. `make({ tf, optim, steps })` returns a tf.Optimizer for
 * model.compile, where `optim` is the `wasm-optim/tfjs` module and `steps` the run's step count.
 * - Adam twice, with float32 and with int8 (blockwise 8-bit) state: `overlay` draws the int8 curve
 *   dotted over the float32 one.
 * - SGD follows a one-cycle policy (PyTorch OneCycleLR: warm up to the peak rate over 30% of the
 *   steps, cosine down to 1/10^4 of the start), its momentum cycling between 0.85 and 0.95.
 * - ScheduleFreeAdamW trains at one point and is evaluated at another (its average): the
 *   `optim.callbacks.scheduleFree` callback swaps the evaluation point in after fit. `callbacks`
 *   gives a run's extra model.fit callbacks.
 * - Muon orthogonalizes the updates of the two 2-D kernels; the biases take its AdamW path.
 * `needs` names what a run requires of the build; available() checks it, so the demo can say which
 * run this build cannot make instead of failing.
 */
export const RUNS = [
  { name: 'tf.train.adam', baseline: true, make: ({ tf }) => tf.train.adam(0.002) },
  { name: 'wasm-optim adam', make: ({ optim }) => optim.adam({ learningRate: 0.002 }) },
  {
    name: 'wasm-optim adam int8',
    overlay: true,
    needs: "Adam's stateDtype option",
    has: () => Adam.optionNames.includes('stateDtype'),
    make: ({ optim }) => optim.adam({ learningRate: 0.002, stateDtype: 'int8' }),
  },
  { name: 'wasm-optim adamw', make: ({ optim }) => optim.adamw({ learningRate: 0.002, weightDecay: 0.004 }) },
  { name: 'wasm-optim lion', make: ({ optim }) => optim.lion({ learningRate: 0.001 }) },
  {
    name: 'wasm-optim sgd + OneCycle',
    make: ({ optim, steps }) => {
      const oneCycle = new OneCycle({ maxLearningRate: 0.2, totalSteps: steps });
      return optim.sgd({ learningRate: oneCycle, momentum: oneCycle.momentum(), nesterov: true });
    },
  },
  {
    name: 'wasm-optim schedule-free adamw',
    needs: 'ScheduleFreeAdamW',
    has: ({ optim }) => typeof optim.scheduleFreeAdamW === 'function',
    make: ({ optim }) => optim.scheduleFreeAdamW({ learningRate: 0.0025 }),
    // Trains at y and leaves x in the model after fit, where the test accuracy is measured.
    callbacks: ({ optim, optimizer }) => [optim.callbacks.scheduleFree(optimizer)],
  },
  {
    name: 'wasm-optim muon',
    needs: 'Muon',
    has: ({ optim }) => typeof optim.muon === 'function',
    make: ({ optim }) => optim.muon({ learningRate: 0.005 }),
  },
];

/** Whether this build can make `run` (its `needs` are met). */
export function available(run, optim) {
  return !run.has || run.has({ optim });
}

/**
 * Train and test sets as tensors (labels one-hot for training), from `source`: loadMnist() of
 * ../data/mnist.mjs or generatedDigits() of ./digits.mjs ({ train, test, side, pixels, classes, name }).
 */
export function dataset(tf, source) {
  const { train: tr, test: te, pixels, classes } = source;
  return {
    xTrain: tf.tensor2d(tr.images, [tr.count, pixels]),
    yTrain: tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(tr.labels, 'int32'), classes), 'float32')),
    xTest: tf.tensor2d(te.images, [te.count, pixels]),
    yTest: te.labels,
    train: tr.count,
    test: te.count,
    side: source.side,
    pixels,
    classes,
    name: source.name,
    stepsPerEpoch: Math.ceil(tr.count / BATCH),
  };
}

function mlp(tfl, { pixels, classes }) {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [pixels], units: 128, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }) }),
      tfl.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 8 }) }),
    ],
  });
}

/** A few unrecorded steps first, so the first run does not pay for compiling and warming up tfjs kernels. */
export async function warmUp({ tf, tfl, data }) {
  const model = mlp(tfl, data);
  const optimizer = tf.train.sgd(0.01);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const n = Math.min(10 * BATCH, data.train);
  const x = tf.slice(data.xTrain, [0, 0], [n, data.pixels]);
  const y = tf.slice(data.yTrain, [0, 0], [n, data.classes]);
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
  const model = mlp(tfl, data);
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
    callbacks: [
      {
        onBatchEnd: async (batch, logs) => {
          stats.steps++;
          stats.losses.push(logs.loss);
          stats.ms = now() - t0;
          await onBatch?.(stats);
        },
      },
      ...(run.callbacks?.({ optim, optimizer }) ?? []),
    ],
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
    'test acc': `${(100 * s.accuracy).toFixed(2)}%`,
    time: `${(s.ms / 1000).toFixed(2)} s`,
    'steps/s': ((1000 * s.steps) / s.ms).toFixed(0),
    'optimizer step': `${(s.optimizerMs / s.steps).toFixed(3)} ms`,
    'step share': `${((100 * s.optimizerMs) / s.ms).toFixed(1)}%`,
  }));
}
