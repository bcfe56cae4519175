// Vercel's edge-runtime with wasm code generation disabled, like Vercel's production Edge: the
// function gets optim.wasm as a module from another realm and fine-tunes the linear model; the
// weights must equal Node's bit for bit, and the forbidden ways of loading must say what to do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import * as lib from 'wasm-optim';
import { ensureBundles, hidden, lastJson, ROOT, run, unavailable } from './runtimes/harness.mjs';
import { fineTune } from './runtimes/linear.mjs';
import { kernelSubset, kernelBytes } from './runtimes/kernel-subset.mjs';
import { precompileKernels } from './runtimes/kernel-files.mjs';

if (hidden('edge-runtime') || !existsSync(`${ROOT}node_modules/edge-runtime/package.json`)) {
  unavailable('edge-runtime is not installed (node_modules/edge-runtime missing)', ['edge-runtime: module binding with wasm code generation off']);
} else {
  test.before(async () => {
    await lib.ready();
    ensureBundles();
  });

  test('edge-runtime (wasm codegen off): module binding from another realm trains; weights equal Node bit for bit', async () => {
    const steps = 300;
    const res = await run(process.execPath, ['test/runtimes/edge/host.mjs', String(steps)], { timeoutMs: 30000 });
    assert.is(res.code, 0, res.err);
    const { status, body } = lastJson(res);
    assert.is(status, 200);
    const { checks, results } = body;
    assert.is(checks.moduleInstanceof, false, 'the host-compiled module is from another realm');
    assert.match(checks.rawCompile, /disallowed/, 'wasm code generation must be off in the VM');
    assert.match(checks.readyDefault, /import\.meta\.url is not set.*ready\(wasm\)/);
    assert.match(checks.readyBytes, /forbids compiling WebAssembly from bytes.*ready\(wasm\)/);
    // ready({ threads: 2, source }) falls back to one thread and says why; no error, no hang.
    assert.is(checks.threadCount, 1);
    assert.type(checks.threadFallbackReason, 'string', JSON.stringify(checks));
    for (const [name, r] of Object.entries(fineTune(lib, { steps }))) {
      const e = results[name];
      assert.ok(e.finalLoss < e.loss0 / 100, `${name}: loss ${e.loss0} -> ${e.finalLoss} should fall 100x`);
      assert.is(e.digest, r.digest, `${name}: weights differ from Node's`);
      assert.equal(e.weights, r.weights);
    }
    console.log(`  edge-runtime: codegen off, cross-realm module; 4 optimizers bit-identical to Node (${res.ms} ms)`);
  });

  test('edge-runtime (wasm codegen off): kernel() runs the fallback and the precompiled modules (from another realm); every path equals Node bit for bit', async () => {
    precompileKernels();
    const res = await run(process.execPath, ['test/runtimes/edge/host.mjs', '0', 'kernel'], { timeoutMs: 30000 });
    assert.is(res.code, 0, res.err);
    const { status, body } = lastJson(res);
    assert.is(status, 200, JSON.stringify(body));
    assert.match(body.checks.rawCompile, /disallowed/);
    const { kernel } = body;
    assert.ok(Object.values(kernel.modes).every((m) => m === 'fallback'), `modes ${JSON.stringify(kernel.modes)}`);
    assert.ok(kernel.fallbackSame && kernel.simdSame && kernel.precompiledSame === true, JSON.stringify(kernel));
    const modules = Object.fromEntries(Object.entries(kernelBytes(lib)).map(([k, b]) => [k, new WebAssembly.Module(b)]));
    assert.equal({ ...kernel, modes: null }, { ...kernelSubset(lib, { modules }), modes: null }, 'kernel() results differ from Node');
  });
}

test.run();
