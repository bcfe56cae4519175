// Cloudflare workerd: the worker of test/runtimes/workerd/ imports optim.wasm as a wasm module
// binding and wasm-optim's edge bundle, and fine-tunes a linear model per request on 127.0.0.1.
// The loss must fall and the weights must equal Node's bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as lib from 'wasm-optim';
import { bin, ensureBundles, freePort, start, stop, unavailable, waitForHttp } from './runtimes/harness.mjs';
import { fineTune } from './runtimes/linear.mjs';
import { kernelSubset, kernelBytes } from './runtimes/kernel-subset.mjs';
import { precompileKernels } from './runtimes/kernel-files.mjs';

const workerd = bin('workerd');
if (!workerd) {
  unavailable('workerd is not installed (node_modules/.bin/workerd missing)', ['workerd: module binding, fine-tuning per request']);
} else {
  let server;
  let base;
  test.before(async () => {
    await lib.ready();
    ensureBundles();
    precompileKernels(); // the kernel() modules the worker imports
    const port = await freePort();
    server = start(workerd, ['serve', 'test/runtimes/workerd/config.capnp', '--socket-addr', `http=127.0.0.1:${port}`]);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/?steps=1`, server);
  });
  test.after(() => stop(server));

  test('workerd: fine-tunes with the module binding; loss falls; weights equal Node bit for bit', async () => {
    const steps = 300;
    const node = fineTune(lib, { steps });
    // Two requests: the second reuses the loaded kernels in the same isolate.
    for (let request = 0; request < 2; request++) {
      const res = await fetch(`${base}/?steps=${steps}`, { signal: AbortSignal.timeout(20000) });
      assert.is(res.status, 200, await res.clone().text());
      const body = await res.json();
      assert.ok(body.moduleIsModule, 'the wasm binding is a WebAssembly.Module');
      assert.is(body.importMetaUrl, 'undefined');
      // ready({ threads: 2, source }) fell back to one thread and says why; no error, no hang.
      assert.is(body.refusals.threads.count, 1);
      assert.type(body.refusals.threads.reason, 'string', JSON.stringify(body.refusals));
      for (const [name, r] of Object.entries(node)) {
        const w = body.results[name];
        assert.ok(w.finalLoss < w.loss0 / 100, `${name}: loss ${w.loss0} -> ${w.finalLoss} should fall 100x`);
        assert.is(w.iterations, steps);
        assert.is(w.digest, r.digest, `${name}: weights differ from Node's`);
        assert.equal(w.weights, r.weights);
        assert.is(w.finalLoss, r.finalLoss);
      }
      if (request === 0) {
        const a = body.results.Adam;
        console.log(`  workerd: Adam loss ${a.loss0.toFixed(4)} -> ${a.finalLoss.toFixed(6)} in ${steps} steps, 4 optimizers bit-identical to Node`);
      }
    }
  });

  test('workerd: kernel() runs the fallback (compiling is refused) and the precompiled modules; every path equals Node bit for bit', async () => {
    const res = await fetch(`${base}/?kernel=1`, { signal: AbortSignal.timeout(30000) });
    assert.is(res.status, 200, await res.clone().text());
    const { kernel } = await res.json();
    assert.ok(Object.values(kernel.modes).every((m) => m === 'fallback'), `modes ${JSON.stringify(kernel.modes)}`);
    assert.ok(kernel.fallbackSame && kernel.simdSame && kernel.precompiledSame === true, JSON.stringify(kernel));
    const modules = Object.fromEntries(Object.entries(kernelBytes(lib)).map(([k, b]) => [k, new WebAssembly.Module(b)]));
    const node = kernelSubset(lib, { modules });
    assert.equal({ ...kernel, modes: null }, { ...node, modes: null }, 'kernel() results differ from Node');
  });

  test('workerd: loading without a module binding fails with an error that says what to do', async () => {
    const body = await (await fetch(`${base}/?steps=1`)).json();
    assert.match(body.refusals.default, /import\.meta\.url is not set.*ready\(wasm\)/);
    assert.match(body.refusals.bytes, /forbids compiling WebAssembly from bytes.*disallowed.*ready\(wasm\)/);
  });
}

test.run();
