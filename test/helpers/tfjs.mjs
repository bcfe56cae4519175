// tfjs for the tests: tfjs-core + layers with the cpu and wasm backends registered (CommonJS, as
// in Node apps), wasm-optim's kernels ready, and the cpu backend's install banner silenced.
import { createRequire } from 'node:module';
import * as optim from '../../build/tfjs/index.js';

const require = createRequire(import.meta.url);
export const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
require('@tensorflow/tfjs-backend-wasm');
export const tfl = require('@tensorflow/tfjs-layers');

/** Runs fn with console.warn silenced (tfjs prints banners and one-time notices). */
export async function quietly(fn) {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}

await optim.ready();
await quietly(async () => {
  await tf.setBackend('cpu'); // its first tensor prints an "install tfjs-node" banner
  tf.dispose(tf.scalar(0));
});
