// Multi-core kernels (docs/threads.md). A threaded arena must be the process's first ready(), and
// uvu runs every suite in one process, so each scenario runs in a child process
// (test/threads/*.mjs) that prints one JSON line; the in-process tests are the ones that do not
// need a threaded arena (option checks, the late-call fallback).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { ready, threadCount, threadFallbackReason, shutdownThreads, defaultHeap } from '../build/index.js';
import { SPLIT_KERNELS } from '../build/threads.js';

await ready();

const here = (f) => new URL(f, import.meta.url).pathname;

/** Runs a child script; returns its parsed JSON line, its exit status and how long it took. */
function child(script, args, timeout = 120000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [here(script), ...args.map(String)], { encoding: 'utf8', timeout });
  const ms = Date.now() - t0;
  assert.ok(!r.error, `${script} ${args.join(' ')}: ${r.error?.message} (status ${r.status}, signal ${r.signal})`);
  assert.is(r.status, 0, `${script} ${args.join(' ')} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop();
  return { out: JSON.parse(line), ms };
}

const runs = {};
const bitwise = (threads, minElements, simd) => (runs[`${threads}/${minElements}/${simd}`] ??= child('./threads/bitwise.mjs', [threads, minElements, simd]).out);

test('every split kernel, through the public optimizers, kernels.* and kernel(): bit-identical for 1, 2 and 3 threads and for plain ready()', () => {
  const plain = bitwise(0, 64, 1);
  assert.is(plain.threads, 1);
  for (const t of [1, 2, 3]) {
    const r = bitwise(t, 64, 1);
    assert.is(r.threads, t, `threads: ${t} runs on ${t} threads (${r.reason})`);
    assert.is(r.reason, null);
    for (const k of Object.keys(plain.hashes)) assert.equal(r.hashes[k], plain.hashes[k], `${k}: ${t} threads vs plain ready()`);
  }
  // kernel() on a threaded arena: compiled (shared import), fallback and precompiled (runs the
  // fallback there) give the same bits as each other and as plain ready() (compared above).
  const k2 = bitwise(2, 64, 1).hashes;
  assert.is(new Set(k2['kernel() adabelief']).size, 1, JSON.stringify(k2['kernel() adabelief']));
  assert.is(new Set(k2['kernel() sumOfSquares']).size, 1);
  assert.equal(k2['kernel() modes'], { compiled: 'compiled', fallback: 'fallback', precompiled: 'precompiled' });
  // Coverage: every split kernel (and the blocked sumSquares) was really split in those runs.
  const splits = bitwise(3, 64, 1).splits;
  for (const name of [...Object.keys(SPLIT_KERNELS), 'sumSquares']) {
    if (typeof defaultHeap().kernels[name] !== 'function') continue; // not in this build
    assert.ok(splits[name] > 0, `${name} was split across threads at least once (${JSON.stringify(splits)})`);
  }
});

test('bit-identical with SIMD off (scalar loops in every thread), and with the default threshold', () => {
  const plain = bitwise(0, 64, 0);
  const two = bitwise(2, 64, 0);
  for (const k of Object.keys(plain.hashes)) assert.equal(two.hashes[k], plain.hashes[k], `${k}: scalar, 2 threads vs plain`);
  const simd = bitwise(0, 64, 1);
  const dflt = bitwise(2, 0, 1);
  for (const k of Object.keys(simd.hashes)) assert.equal(dflt.hashes[k], simd.hashes[k], `${k}: default minElements, 2 threads vs plain`);
  assert.ok(dflt.splits.adam > 0, 'the 300001-element variables are split at the default threshold');
});

test('a steady-state step split across threads allocates nothing (60,000 steps of AdamW + globalClipnorm + EMA + skipNonFinite, 1 MiB young generation, zero collections)', () => {
  // Best of up to five processes, as the core allocation probe does: V8's tier-up timing under
  // load can put one collection into a window now and then.
  let out;
  for (let attempt = 0; attempt < 5 && !(out?.collections === 0); attempt++) {
    const r = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', here('./threads/alloc.mjs')], { encoding: 'utf8', timeout: 120000 });
    assert.is(r.status, 0, r.stderr);
    out = JSON.parse(r.stdout.trim().split('\n').pop());
  }
  assert.is(out.threads, 2);
  assert.is(out.splits, out.steps, 'every step split its adam call');
  assert.is(out.collections, 0, 'a 1 MiB young generation filled up, so split steps allocate');
  assert.is(out.wasmGrowth, 0);
});

test('shared memory growth: workers see the grown memory; results equal for 1, 2 and 3 threads', () => {
  const r = [1, 2, 3].map((t) => child('./threads/lifetime.mjs', ['grow', t]).out);
  for (const x of r) assert.ok(x.grew, 'memory grew after the first step');
  assert.is(r[1].shared, '[object SharedArrayBuffer]');
  assert.is(r[1].threads, 2);
  assert.is(r[2].threads, 3);
  assert.is(r[1].hash, r[0].hash);
  assert.is(r[2].hash, r[0].hash);
});

test('Node exits by itself after training with threads (workers are unref\'d); shutdownThreads() returns to one thread', () => {
  const { out, ms } = child('./threads/lifetime.mjs', ['exit'], 30000);
  assert.is(out.threads, 2);
  assert.ok(ms < 30000, `exited on its own in ${ms} ms`);
  const s = child('./threads/lifetime.mjs', ['shutdown']).out;
  assert.equal(s, { before: 2, after: 1, finite: true });
});

test('a dead worker is a clear error, never a deadlock; kernels then run on one thread', () => {
  // Died while idle: the steps before its exit event is delivered do not wait for it and are right.
  const term = child('./threads/lifetime.mjs', ['terminated'], 30000).out;
  const ref = child('./threads/lifetime.mjs', ['reference'], 30000).out;
  assert.is(term.hash, ref.hash, 'steps done without the dead worker equal the one-thread steps');
  assert.ok(term.ms < 5000, `3 steps took ${term.ms} ms`);
  assert.match(term.error, /worker 0 stopped \(exited/);
  assert.match(term.error, /now run on one thread/);
  assert.is(term.after, 1);
  assert.ok(term.finite);
  const exited = child('./threads/lifetime.mjs', ['exited'], 30000).out;
  assert.match(exited.error, /worker 0 stopped \(exited/);
  assert.is(exited.after, 1);
  // A claimed chunk not finished in time (timeoutMs 0.001 on 1e7 elements).
  const slow = child('./threads/lifetime.mjs', ['timeout'], 60000).out;
  assert.match(slow.error, /a worker did not finish its part of '\w+' within 0.001 ms/);
  assert.is(slow.after, 1);
  // A kernel that traps (out-of-bounds chunks, whichever thread claims them): an error, no hang;
  // when a worker's chunk trapped, the message names it.
  const trap = child('./threads/lifetime.mjs', ['trap'], 30000).out;
  assert.match(trap.error, /^(wasm-optim threads: worker \d failed in 'fill': )?memory access out of bounds/);
});

test('tfjs entry after ready({ threads: 2 }): the wasm backend\'s heap stays single-threaded (kernelModule() is the unshared build), the cpu backend uses the threaded arena; both equal plain ready()', () => {
  const two = child('./threads/tfjs.mjs', [2]).out;
  const plain = child('./threads/tfjs.mjs', [0]).out;
  assert.is(two.threads, 2);
  assert.is(two.wasm, plain.wasm);
  assert.is(two.cpu, plain.cpu);
});

test('ready(options) checks its options by name; a late ready({ threads }) falls back and says why', async () => {
  await ready();
  for (const [opts, re] of [
    [{ threads: 0 }, /threads must be an integer from 1 to 64, got 0/],
    [{ threads: 2.5 }, /threads must be an integer from 1 to 64, got 2.5/],
    [{ threads: 65 }, /threads must be an integer from 1 to 64/],
    [{ threads: '2' }, /threads must be an integer/],
    [{ minElements: 8 }, /threads must be an integer/],
    [{ threads: 2, minElements: 2 }, /minElements must be an integer >= 4, got 2/],
    [{ threads: 2, timeoutMs: 0 }, /timeoutMs must be a finite number > 0, got 0/],
    [{ threads: 2, timeoutMs: Infinity }, /timeoutMs must be a finite number > 0/],
    [{ threads: 2, thread: 2 }, /unknown option 'thread'/],
    [{ threads: 2, min_elements: 9 }, /unknown option 'min_elements'/],
  ]) {
    let err = null;
    await ready(opts).catch((e) => (err = e));
    assert.ok(err, `${JSON.stringify(opts)} is refused`);
    assert.match(err.message, re);
  }
  assert.is(threadCount(), 1);
  const had = threadFallbackReason();
  await ready({ threads: 2 });
  assert.is(threadCount(), 1);
  if (had === null) assert.match(threadFallbackReason(), /ready\(\) had already been called without threads/);
  shutdownThreads(); // harmless without threads
  assert.is(threadCount(), 1);
});

test.run();
