// A small regression model and a model.fit that records the learning rate each step used: shared by
// the tfjs callback tests.
import { rng } from './random.mjs';
import * as optim from '../../build/tfjs/index.js';
import { tf, tfl } from './tfjs.mjs';

export function data(seed, n) {
  const r = rng(seed);
  const x = r.f32(n * 3);
  const y = new Float32Array(n).map((_, i) => x[3 * i] - 2 * x[3 * i + 1] + 0.5 * x[3 * i + 2]);
  return [tf.tensor(x, [n, 3]), tf.tensor(y, [n, 1])];
}

export function net(seed = 5) {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 8, inputShape: [3], activation: 'tanh' }), tfl.layers.dense({ units: 1 })] });
  const r = rng(seed);
  model.setWeights(model.getWeights().map((t) => tf.tensor(r.f32(t.size, 0.4), t.shape)));
  return model;
}

/** Fits `epochs` epochs; returns the history and the learning rate each epoch's steps used. */
export async function fit(model, optimizer, callbacks, { epochs = 5, initialEpoch = 0, validation = true } = {}) {
  const [x, y] = data(1, 32);
  const [vx, vy] = data(2, 16);
  const used = [];
  const apply = optimizer.applyGradients.bind(optimizer);
  optimizer.applyGradients = (g) => {
    used.push(optimizer.core.learningRate);
    return apply(g);
  };
  try {
    const h = await model.fit(x, y, { epochs, initialEpoch, batchSize: 16, shuffle: false, verbose: 0, callbacks, validationData: validation ? [vx, vy] : undefined });
    return { history: h.history, used };
  } finally {
    delete optimizer.applyGradients;
    tf.dispose([x, y, vx, vy]);
  }
}

export const PLATEAU = { factor: 0.5, patience: 2, minDelta: 0.02, cooldown: 1, minLr: 0.004 };

export const PLATEAU_EPOCHS = 12;

/** An uninterrupted plateau run: Adam 0.05 on net(), val_loss monitored. */
export async function plateauRun() {
  const a = net();
  const optA = optim.adam({ learningRate: 0.05 });
  a.compile({ optimizer: optA, loss: 'meanSquaredError' });
  const cbA = optim.callbacks.reduceLROnPlateau(optA, PLATEAU);
  const run = await fit(a, optA, [cbA], { epochs: PLATEAU_EPOCHS });
  const state = cbA.plateau.state;
  a.dispose();
  optA.dispose();
  return { ...run, state };
}
