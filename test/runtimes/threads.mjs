// Run by test/runtimes-deno.test.mjs and test/runtimes-bun.test.mjs: ready({ threads }) there (web
// Workers on a shared memory; in Bun the write-visibility probe decides, bun#25677).
// Prints the thread count and a hash of Adam's weights after 3 steps (globalClipnorm: the blocked
// sumSquares too), which must equal Node's on one thread.
import * as W from '../../build/index.js';

const args = globalThis.Deno ? globalThis.Deno.args : process.argv.slice(2);
const threads = Number(args[0] ?? 2);
await W.ready(threads === 0 ? undefined : { threads, minElements: 1024 });
const n = 200003;
const w = new W.Variable(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
const g = new W.Variable(Float32Array.from({ length: n }, (_, i) => Math.cos(i * 1.3)));
const opt = new W.AdamW({ globalClipnorm: 1, weightDecay: 0.01 });
for (let s = 0; s < 3; s++) opt.applyGradients([[g.value, w]]);
let h = 0x811c9dc5;
const b = new Uint8Array(w.value.buffer, w.value.byteOffset, w.value.byteLength);
for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;
const count = W.threadCount();
const reason = W.threadFallbackReason();
// Deno keeps the process alive while workers run (its Worker has no unref): say when training is
// over. Bun's workers are unref'd: argv 'keep' leaves them running and the process must still exit.
if (args[1] !== 'keep') W.shutdownThreads();
console.log(JSON.stringify({ threads: count, reason, hash: h }));
