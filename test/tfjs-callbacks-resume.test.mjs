// A model saved mid-plateau (model.save with includeOptimizer) and loaded with tf.loadLayersModel
// continues the plateau exactly: getWeights()/setWeights() carry the core's plateau state.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as optim from '../build/tfjs/index.js';
import { tf, tfl, quietly } from './helpers/tfjs.mjs';
import { fit, net, PLATEAU, PLATEAU_EPOCHS, plateauRun } from './helpers/fit-callbacks.mjs';

const BACKENDS = ['cpu', 'wasm'];

/** kerasPlateau's counters after `values`. */
function kerasState(values, { patience, minDelta, cooldown }) {
  let best = Infinity;
  let wait = 0;
  let cooling = 0;
  for (const v of values) {
    if (cooling > 0) {
      cooling--;
      wait = 0;
    }
    if (v < best - minDelta) {
      best = v;
      wait = 0;
    } else if (cooling === 0 && ++wait >= patience) {
      cooling = cooldown;
      wait = 0;
    }
  }
  return { wait, cooling };
}

for (const backend of BACKENDS) {
  test(`${backend}: reduceLROnPlateau: a model saved mid-plateau (includeOptimizer) and loaded continues exactly`, async () => {
    await quietly(() => tf.setBackend(backend));
    const runA = await plateauRun();
    // an epoch boundary mid-plateau (wait > 0 or in cooldown)
    let split = -1;
    for (let k = 3; k < PLATEAU_EPOCHS - 2 && split < 0; k++) {
      const st = kerasState(runA.history.val_loss.slice(0, k), PLATEAU);
      if (st.wait > 0 || st.cooling > 0) split = k;
    }
    assert.ok(split > 0, 'a mid-plateau epoch exists');
    const b = net();
    const optB = optim.adam({ learningRate: 0.05 });
    b.compile({ optimizer: optB, loss: 'meanSquaredError' });
    const cbB = optim.callbacks.reduceLROnPlateau(optB, PLATEAU);
    const runB = await fit(b, optB, [cbB], { epochs: split });
    const mid = cbB.plateau.state;
    assert.ok(mid.wait > 0 || mid.cooldown > 0, `saved mid-plateau: ${JSON.stringify(mid)}`);
    let artifacts;
    await b.save(tf.io.withSaveHandler(async (x) => ((artifacts = x), { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(x) })), { includeOptimizer: true });
    b.dispose();
    optB.dispose();
    const c = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const optC = c.optimizer;
    assert.instance(optC, optim.TfjsOptimizer);
    const cbC = optim.callbacks.reduceLROnPlateau(optC, PLATEAU);
    assert.equal(cbC.plateau.state, mid, 'the loaded optimizer carries the plateau');
    const runC = await fit(c, optC, [cbC], { epochs: PLATEAU_EPOCHS, initialEpoch: split });
    assert.equal([...runB.history.learning_rate, ...runC.history.learning_rate], runA.history.learning_rate);
    assert.equal([...runB.history.val_loss, ...runC.history.val_loss], runA.history.val_loss);
    assert.equal(cbC.plateau.state, runA.state);
    c.dispose();
    optC.dispose();
  });
}

test.run();
