// Child process of test/kernel-pipeline.test.mjs: kernel() optimizers that fuse the step pipeline,
// on a threaded arena (their compiled module imports the shared memory and runs on this thread;
// the fallback's primitives and the base class's separate passes are split across threads), fused
// and taking the separate passes. Prints a hash of everything each run holds.
// argv: threads (0 = plain ready(), no thread machinery).
import * as W from '../../build/index.js';
import { threadSplitCounts } from '../../build/threads.js';
import { ADABELIEF, ADAM, kernelAdaBelief, kernelAdam, kernelOn, plainOf, trajectory } from '../helpers/fused-kernels.mjs';

const threads = Number(process.argv[2]);
if (threads === 0) await W.ready();
else await W.ready({ threads, minElements: 64 });

// FNV-1a over the bits of every array.
function hash(arrays) {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;
  }
  return h;
}

const CONFIGS = [
  { weightDecay: 0.05, globalClipnorm: 1, useEma: true },
  { clipvalue: 0.3, weightDecay: 0.05, useEma: true },
  { clipnorm: 0.5, lossScaleFactor: 2, weightDecay: 0.01 },
];
const hashes = {};
const modes = {};
for (const [kind, spec, classOf] of [['AdaBelief', ADABELIEF, kernelAdaBelief], ['Adam', ADAM, kernelAdam]]) {
  for (const mode of ['compiled', 'fallback', 'precompiled']) {
    const k = kernelOn(spec, mode);
    const C = classOf(k);
    for (const base of CONFIGS) {
      const options = { learningRate: 0.01, ...base };
      const key = `${kind} ${mode} ${JSON.stringify(base)}`;
      hashes[key] = [hash(trajectory(() => new C(options)).out), hash(trajectory(() => new (plainOf(C))(options)).out)];
    }
    modes[`${kind} ${mode}`] = k.mode;
  }
}
console.log(JSON.stringify({ threads: W.threadCount(), reason: W.threadFallbackReason(), splits: Object.fromEntries(threadSplitCounts()), modes, hashes }));
W.shutdownThreads?.();
