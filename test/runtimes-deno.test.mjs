// Deno runs the conformance subset from the built package and must report Node's numbers. Without
// --allow-read, `wasm-optim` cannot read optim.wasm and `wasm-optim/inline` still works (as the docs say).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bin, ensureBundles, lastJson, run } from './runtimes/harness.mjs';
import { sameAsNode } from './runtimes/same-as-node.mjs';

sameAsNode('deno', (entry) => ['run', '--allow-read', '--no-prompt', 'test/runtimes/subset-main.mjs', entry]);

const deno = bin('deno'); // when missing, sameAsNode's tests already fail (CI) or skip
if (deno) {
  test('deno without --allow-read: wasm-optim says it needs read access; wasm-optim/inline needs no permission', async () => {
    ensureBundles();
    const env = { ...process.env, NO_COLOR: '1' };
    const core = await run(deno, ['run', '--no-prompt', 'test/runtimes/deno/no-read-core.mjs'], { env, timeoutMs: 30000 });
    assert.is.not(core.code, 0, core.out);
    assert.match(core.err, /Requires read access to "[^"]*optim\.wasm".*--allow-read/);
    const inline = await run(deno, ['run', '--no-prompt', 'test/runtimes/deno/no-read-inline.mjs'], { env, timeoutMs: 30000 });
    assert.is(inline.code, 0, inline.err);
    const w = lastJson(inline);
    assert.ok(Math.abs(w[0] - 0.9) < 1e-5 && Math.abs(w[1] - 1.9) < 1e-5, JSON.stringify(w));
  });
}

if (deno) {
  test('deno: ready({ threads: 2 }) runs two threads (web Workers, shared memory); AdamW + globalClipnorm equals Node on one thread bit for bit', async () => {
    const ours = await run(deno, ['run', '--allow-read', '--no-prompt', 'test/runtimes/threads.mjs', '2'], { timeoutMs: 30000 });
    assert.is(ours.code, 0, ours.err);
    const r = lastJson(ours);
    const node = await run(process.execPath, ['test/runtimes/threads.mjs', '0'], { timeoutMs: 30000 });
    assert.is(node.code, 0, node.err);
    assert.is(r.threads, 2, JSON.stringify(r));
    assert.is(r.reason, null);
    assert.is(r.hash, lastJson(node).hash);
  });
}

test.run();
