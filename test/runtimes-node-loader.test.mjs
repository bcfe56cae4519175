// Node: every kind of source `ready()` accepts, cross-realm objects, errors and retries. Each test
// loads a fresh instance of the loader (build/wasm.js?<n>), since ready() is once per instance.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { ensureBundles, lastJson, run } from './runtimes/harness.mjs';

ensureBundles(); // the inline entry's embedded wasm and build/bundle/ are checked below

const WASM_URL = new URL('../build/optim.wasm', import.meta.url);
const bytes = readFileSync(WASM_URL);
let fresh = 0;
const loader = () => import(`../build/wasm.js?fresh=${++fresh}`);

async function loadsWith(source) {
  const w = await loader();
  assert.not.ok(w.isReady());
  await w.ready(source);
  assert.ok(w.isReady());
  assert.is(typeof w.defaultHeap().kernels.adam, 'function');
  assert.is(Object.prototype.toString.call(w.kernelModule()), '[object WebAssembly.Module]');
  return w;
}

const sources = {
  'no argument (optim.wasm beside the module)': () => undefined,
  'a Uint8Array': () => new Uint8Array(bytes),
  'an ArrayBuffer': () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
  'a file: URL': () => WASM_URL,
  'a relative URL string': () => './optim.wasm',
  'a WebAssembly.Module': () => new WebAssembly.Module(bytes),
  'a Response': () => new Response(bytes, { headers: { 'content-type': 'application/wasm' } }),
  'a Promise of a Response': () => Promise.resolve(new Response(bytes)),
  'a Module from another realm': () => vm.runInNewContext('new WebAssembly.Module(b)', { b: bytes }),
  'an ArrayBuffer from another realm': () => vm.runInNewContext('new Uint8Array(b).buffer', { b: bytes }),
};
for (const [name, make] of Object.entries(sources)) {
  test(`ready(${name})`, async () => {
    await loadsWith(make());
  });
}

test('readySync(bytes | Module); a cross-realm Module is not instanceof, and still loads', async () => {
  const a = await loader();
  a.readySync(new Uint8Array(bytes));
  assert.ok(a.isReady());
  const foreign = vm.runInNewContext('new WebAssembly.Module(b)', { b: bytes });
  assert.not.ok(foreign instanceof WebAssembly.Module);
  const b = await loader();
  b.readySync(foreign);
  assert.ok(b.isReady());
});

test('bad sources reject with a clear error, change nothing, and a later ready() succeeds', async () => {
  const w = await loader();
  for (const [bad, pattern] of [
    [42, /expected a WebAssembly\.Module, bytes/],
    [{}, /expected a WebAssembly\.Module, bytes/],
    [new Response('missing', { status: 404 }), /HTTP 404/],
    [new Uint8Array([1, 2, 3]), /magic|expected|CompileError|wasm/i],
  ]) {
    let err;
    await w.ready(bad).catch((e) => (err = e));
    assert.ok(err, `ready(${String(bad)}) should reject`);
    assert.match(String(err.message), pattern);
    assert.not.ok(w.isReady());
  }
  assert.throws(() => w.readySync('./optim.wasm'), (e) => e instanceof TypeError && /readySync\(source\)/.test(e.message));
  assert.throws(() => w.defaultHeap(), /call `await ready\(\)`/);
  await w.ready();
  assert.ok(w.isReady());
});

test('ready() is idempotent; readySync() during a pending ready() keeps one arena', async () => {
  const w = await loader();
  const pending = w.ready();
  w.readySync(new Uint8Array(bytes));
  const heap = w.defaultHeap();
  await pending;
  assert.is(w.defaultHeap(), heap, 'the pending ready() must not replace the arena');
  await w.ready(42); // already ready: the argument is ignored
  assert.is(w.defaultHeap(), heap);
});

test('wasm-optim/inline in a fresh Node process: ready() and readySync() use the embedded bytes', async () => {
  const script = `
    const a = await import('wasm-optim/inline');
    a.readySync();
    const v = new a.Variable([1, 2, 3]);
    new a.Adam({ learningRate: 0.1 }).applyGradients([[new Float32Array([1, 1, 1]), v]]);
    console.log(JSON.stringify([...v.value]));`;
  const res = await run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 20000 });
  assert.is(res.code, 0, res.err);
  const w = lastJson(res);
  assert.ok(Math.abs(w[0] - 0.9) < 1e-5 && Math.abs(w[2] - 2.9) < 1e-5, JSON.stringify(w));
});

test('the core entry imports nothing from node:* statically', () => {
  for (const file of ['wasm.js', 'index.js', 'bundle/wasm-optim.browser.js', 'bundle/wasm-optim.edge.js']) {
    const src = readFileSync(new URL(`../build/${file}`, import.meta.url), 'utf8');
    assert.not.match(src, /from\s*["']node:|import\s*\(\s*["']node:|require\(\s*["']node:/, file);
  }
});

test.run();
