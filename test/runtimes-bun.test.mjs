// Bun (JavaScriptCore) runs the conformance subset from the built package and must report Node's numbers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sameAsNode } from './runtimes/same-as-node.mjs';
import { bin, lastJson, run } from './runtimes/harness.mjs';

sameAsNode('bun', (entry) => ['test/runtimes/subset-main.mjs', entry]);

const bun = bin('bun');
if (bun) {
  test('bun: ready({ threads: 2 }) either runs two threads (the write-visibility probe passed) with results equal to Node on one thread, or falls back and says why (bun#25677); exits by itself with workers left running', async () => {
    const ours = await run(bun, ['test/runtimes/threads.mjs', '2', 'keep'], { timeoutMs: 30000 });
    assert.is(ours.code, 0, ours.err);
    const r = lastJson(ours);
    const node = await run(process.execPath, ['test/runtimes/threads.mjs', '0'], { timeoutMs: 30000 });
    if (r.threads === 1) assert.match(r.reason, /not visible across threads|thread probe failed/);
    else assert.is(r.reason, null);
    assert.is(r.hash, lastJson(node).hash);
  });
}

test.run();
