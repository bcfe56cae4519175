// Child process of test/threads.test.mjs: the tfjs entry after ready({ threads: 2 }). On the wasm
// backend the optimizer's kernels run on the backend's own (unshared) heap, single-threaded; on
// the cpu backend they run on the default (threaded) arena. Prints a hash of the weights per
// backend; argv[2] = threads (0: plain ready()).
import { createRequire } from 'node:module';
import * as optim from '../../build/tfjs/index.js';
import { threadCount } from '../../build/index.js';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
require('@tensorflow/tfjs-backend-wasm');

const threads = Number(process.argv[2]);
await optim.ready(threads ? { threads, minElements: 1024 } : undefined);
const warn = console.warn;
console.warn = () => {};
const out = { threads: threadCount() };
for (const backend of ['wasm', 'cpu']) {
  await tf.setBackend(backend);
  await tf.ready();
  const n = 50003;
  const w = tf.variable(tf.tensor1d(Float32Array.from({ length: n }, (_, i) => Math.sin(i))));
  const opt = optim.adam({ learningRate: 0.01, globalClipnorm: 1 });
  for (let s = 0; s < 3; s++) {
    const g = tf.tensor1d(Float32Array.from({ length: n }, (_, i) => Math.cos(i * (s + 1))));
    opt.applyGradients([{ name: w.name, tensor: g }]);
    g.dispose();
  }
  const v = w.dataSync();
  let h = 0x811c9dc5;
  const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;
  out[backend] = h;
  opt.dispose();
  w.dispose();
}
console.warn = warn;
console.log(JSON.stringify(out));
