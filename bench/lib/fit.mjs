// model.fit end to end: one epoch of a ~1M-parameter MLP, our Adam (through wasm-optim/tfjs)
// against tf.train.adam, on the cpu and wasm backends. Both models start from the same weights and
// see the same data; the four contenders alternate epoch by epoch.
import { createRequire } from 'node:module';
import { randomFloats } from './contenders.mjs';
import { race } from './measure.mjs';

const require = createRequire(import.meta.url);

export const FIT = { inputs: 784, hidden: [1024, 256], outputs: 10, samples: 128, batchSize: 32 };

async function loadOurs() {
  try {
    return await import('../../build/tfjs/index.js');
  } catch (e) {
    return { error: e };
  }
}

export async function runFit(tf, { fitSamples }) {
  const ours = await loadOurs();
  if (ours.error || typeof ours.adam !== 'function') {
    const reason = ours.error ? `build/tfjs/index.js could not be loaded: ${ours.error.message.split('\n')[0]}` : 'build/tfjs/index.js exports no adam()';
    return { status: 'not run', reason };
  }
  const tfl = require('@tensorflow/tfjs-layers');
  const { inputs, hidden, outputs, samples, batchSize } = FIT;
  const xs = randomFloats(samples * inputs, 0, 1, 5);
  const ys = randomFloats(samples * outputs, 0, 1, 6);
  const build = () =>
    tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [inputs], units: hidden[0], activation: 'relu' }),
        ...hidden.slice(1).map((units) => tfl.layers.dense({ units, activation: 'relu' })),
        tfl.layers.dense({ units: outputs }),
      ],
    });
  const contenders = [];
  const cleanup = [];
  const losses = {};
  let params = 0;
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    const x = tf.tensor2d(xs, [samples, inputs]);
    const y = tf.tensor2d(ys, [samples, outputs]);
    // Same initial weights for both, as independent copies (a tensor handed to setWeights may be
    // adopted by the variable, and an in-place optimizer must not reach the other model).
    const init = build().getWeights().map((t) => ({ values: t.dataSync().slice(), shape: t.shape }));
    for (const [who, makeOpt] of [
      ['ours', () => ours.adam({ learningRate: 1e-3 })],
      ['tf', () => tf.train.adam(1e-3, 0.9, 0.999, 1e-7)],
    ]) {
      const model = build();
      params = model.countParams();
      model.setWeights(init.map(({ values, shape }) => tf.tensor(values.slice(), shape)));
      model.compile({ optimizer: makeOpt(), loss: 'meanSquaredError' });
      const id = `${who}:${backend}`;
      contenders.push({
        id,
        garbage: true,
        before: () => (tf.getBackend() === backend ? undefined : tf.setBackend(backend)),
        run: async (reps) => {
          for (let r = 0; r < reps; r++) {
            const h = await model.fit(x, y, { epochs: 1, batchSize, shuffle: false, verbose: 0 });
            losses[id] = h.history.loss[0];
          }
        },
      });
      cleanup.push(() => model.dispose());
    }
    cleanup.push(() => (x.dispose(), y.dispose()));
  }
  const stats = await race(contenders, { samples: fitSamples, minMs: 0, warmup: 2 });
  for (const f of cleanup) f();
  return {
    status: 'ok',
    model: `MLP ${[inputs, ...hidden, outputs].join('-')} (relu), ${params} parameters, MSE loss`,
    params,
    samples,
    batchSize,
    stepsPerEpoch: Math.ceil(samples / batchSize),
    stats: Object.fromEntries(stats),
    finalLoss: losses,
  };
}
