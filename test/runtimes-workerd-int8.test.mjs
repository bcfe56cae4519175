// The edge example (examples/workerd-int8/run.mjs): in workerd, with every WebAssembly memory capped
// at 128 MiB (V8's --wasm-max-mem-pages=2048 in the config), a 10-million-parameter MLP cannot even
// build float32 Adam's state, while with int8 state it fine-tunes on MNIST digits, the loss falls,
// and the whole run stays inside the budget: wasm memory and arena peak under 128 * 10^6 bytes, and
// the growth of the workerd process' resident memory (wasm memory + JavaScript heap + workerd's own
// buffers and compiled code, measured from outside: an over-estimate of the isolate's) under 128 MiB.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bin, ensureBundles, lastJson, run, unavailable } from './runtimes/harness.mjs';

const MiB = 2 ** 20;
const LIMIT = 128 * MiB;
const LIMIT_MB = 128e6; // Cloudflare's "128 MB" read as decimal megabytes: the stricter reading
const mib = (b) => `${(b / MiB).toFixed(1)} MiB`;

const workerd = bin('workerd');
if (!workerd) {
  unavailable('workerd is not installed (node_modules/.bin/workerd missing)', ['workerd: int8 Adam fine-tunes a 10M-parameter MLP inside 128 MiB; float32 Adam does not fit']);
} else {
  test('workerd: int8 Adam fine-tunes a 10M-parameter MLP inside 128 MiB; float32 Adam does not fit', async () => {
    ensureBundles();
    const steps = 16;
    const res = await run(process.execPath, ['examples/workerd-int8/run.mjs', '--json', '--steps', String(steps)], { timeoutMs: 240000 });
    assert.is(res.code, 0, `${res.out}\n${res.err}`);
    const { runs } = lastJson(res);
    const f32 = runs.find((r) => r.stateDtype === 'float32');
    const int8 = runs.find((r) => r.stateDtype === 'int8');
    for (const r of runs) {
      assert.is(r.wasmMemoryCap, LIMIT, 'the config caps wasm memory at 128 MiB');
      assert.ok(r.params > 10e6, `${r.params} parameters`);
      assert.ok(r.wasmMemoryBytes <= LIMIT, `${r.stateDtype}: wasm memory ${r.wasmMemoryBytes}`);
    }
    // float32: 16 bytes per parameter (weight, gradient, m, v) do not fit.
    assert.is(f32.fits, false, 'float32 Adam state must not fit under the cap');
    assert.match(f32.error, /out of wasm memory/);
    assert.ok(f32.modelBytes + f32.stateBytesNeeded > LIMIT, `float32 needs ${f32.modelBytes + f32.stateBytesNeeded} bytes`);
    // int8: fits, trains, and the process grew by less than the budget.
    assert.is(int8.fits, true, int8.error);
    assert.is(int8.iterations, steps);
    assert.ok(int8.stateBytesPerParam <= 2.1, `int8 state: ${int8.stateBytesPerParam} bytes per parameter`);
    assert.ok(int8.arenaPeakBytes < LIMIT_MB, `arena peak ${int8.arenaPeakBytes}`);
    assert.ok(int8.wasmMemoryBytes < LIMIT_MB, `wasm memory ${int8.wasmMemoryBytes}`);
    if (process.platform === 'linux') {
      assert.ok(int8.residentGrowth > int8.arenaPeakBytes * 0.9, `the resident growth ${int8.residentGrowth} should include the touched wasm memory (${int8.arenaPeakBytes})`);
      assert.ok(int8.residentGrowth < LIMIT, `workerd's resident memory grew by ${int8.residentGrowth} bytes`);
    }
    const pass = int8.examples / int8.batch;
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [first, last] = [mean(int8.losses.slice(0, pass)), mean(int8.losses.slice(-pass))];
    assert.ok(int8.losses.every(Number.isFinite));
    assert.ok(last < 0.6 * first, `the loss should fall: ${first} -> ${last}`);
    console.log(
      `  workerd, ${int8.params} parameters: float32 Adam needs ${mib(f32.modelBytes + f32.stateBytesNeeded)} (refused at ${mib(f32.arenaPeakBytes)});` +
        ` int8 Adam: state ${int8.stateBytesPerParam.toFixed(3)} B/param, wasm memory ${mib(int8.wasmMemoryBytes)}, arena peak ${mib(int8.arenaPeakBytes)},` +
        ` process +${mib(int8.residentGrowth)} (${(int8.residentGrowth / 1e6).toFixed(1)} MB); loss ${first.toFixed(3)} -> ${last.toFixed(3)} in ${steps} steps`,
    );
  });
}

test.run();
