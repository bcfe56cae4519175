// Training quality of 8-bit optimizer state (issue #15) on real data: the demo's MLP (784-128-10,
// tfjs-layers, model.fit on the wasm backend) learns the MNIST digits of the `mnist` package
// (8,000 training images, 2,000 held out; examples/data/mnist.mjs) for 3 epochs, once with float32
// Adam state and once with int8 state, from the same initial weights on the same batches. The int8
// run's test accuracy must be within 0.5 points of the float32 run's, which must itself be sensible.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as optim from '../build/tfjs/index.js';
import { loadMnist } from '../examples/data/mnist.mjs';
import { dataset, RUNS, trainRun, warmUp } from '../examples/demo/train.mjs';
import { quietly, tf, tfl } from './helpers/tfjs.mjs';

const EPOCHS = 3;
const run = (name) => RUNS.find((r) => r.name === name);

test('int8 Adam state: MNIST test accuracy within 0.5 points of float32 Adam (3 epochs, 375 steps)', async () => {
  const previous = tf.getBackend(); // suites share one process: put the backend back afterwards
  await quietly(() => tf.setBackend('wasm'));
  const data = dataset(tf, loadMnist());
  try {
    await warmUp({ tf, tfl, data });
    const f32 = await trainRun({ tf, tfl, optim, data, run: run('wasm-optim adam'), epochs: EPOCHS });
    const int8 = await trainRun({ tf, tfl, optim, data, run: run('wasm-optim adam int8'), epochs: EPOCHS });
    const points = (s) => 100 * s.accuracy;
    console.log(
      `  MNIST, ${data.train} train / ${data.test} test, ${f32.steps} steps: float32 Adam ${points(f32).toFixed(2)}%, int8 Adam ${points(int8).toFixed(2)}%` +
        ` (difference ${(points(int8) - points(f32)).toFixed(2)} points); final losses ${f32.losses.at(-1).toFixed(4)} / ${int8.losses.at(-1).toFixed(4)}`,
    );
    assert.is(int8.steps, f32.steps);
    assert.ok(int8.losses.every(Number.isFinite), 'int8 losses are finite');
    assert.ok(points(f32) > 90, `float32 Adam reaches ${points(f32)}%: not a sensible baseline`);
    assert.ok(Math.abs(points(int8) - points(f32)) <= 0.5, `int8 ${points(int8)}% vs float32 ${points(f32)}%`);
  } finally {
    tf.dispose([data.xTrain, data.yTrain, data.xTest]);
    await quietly(() => tf.setBackend(previous));
  }
});

test.run();
