// Tests that must not be able to lie: with CI=true a runtime suite whose runtime is missing fails
// (it is not skipped), and `npm test` (test/run.mjs) fails on any skipped test. Outside CI the
// suites still skip with a printed reason. Runtimes are hidden through the harness's test seam.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from './runtimes/harness.mjs';

const SUITES = 'runtimes-(deno|bun|workerd|edge|chromium)\\.test\\.mjs$';
const HIDE = 'deno,bun,workerd,edge-runtime,chromium';
const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
/** The environment without CI (the machine running the suite may set it), plus `extra`. */
const env = (extra) => {
  const { CI, ...rest } = process.env;
  return { ...rest, ...extra };
};
const count = (out, label) => Number(plain(out).match(new RegExp(`${label}:\\s+(\\d+)`))?.[1]);

test('CI=true: every runtime suite whose runtime is missing fails with the reason, none skips', async () => {
  const res = await run(process.execPath, ['node_modules/uvu/bin.js', 'test', SUITES], {
    env: env({ CI: 'true', WASM_OPTIM_TEST_HIDE_RUNTIMES: HIDE }),
    timeoutMs: 60000,
  });
  const out = plain(res.out + res.err);
  assert.is.not(res.code, 0, out);
  assert.is(count(out, 'Skipped'), 0, out);
  assert.is(count(out, 'Passed'), 0, out);
  assert.is(count(out, 'Total'), 8, out); // deno 2, bun 2, workerd 1, edge 1, chromium 2
  for (const reason of [
    'deno is not installed',
    'bun is not installed',
    'workerd is not installed',
    'edge-runtime is not installed',
    'Chromium needs /usr/bin/chromium',
  ]) {
    assert.match(out, `${reason}`, `the failure names the missing runtime: ${reason}`);
  }
  assert.match(out, 'CI=true requires this runtime suite to run');
});

test('outside CI: the same suites skip, print why, and pass', async () => {
  const res = await run(process.execPath, ['node_modules/uvu/bin.js', 'test', SUITES], {
    env: env({ WASM_OPTIM_TEST_HIDE_RUNTIMES: HIDE }),
    timeoutMs: 60000,
  });
  const out = plain(res.out + res.err);
  assert.is(res.code, 0, out);
  assert.is(count(out, 'Skipped'), 8, out);
  assert.match(out, 'skip: deno is not installed');
});

test('test/run.mjs: a skipped test fails the run with CI=true, and only reports it outside CI', async () => {
  const args = ['test/run.mjs', 'test/runtimes/fixtures', 'skip\\.fixture\\.mjs$'];
  const ci = await run(process.execPath, args, { env: env({ CI: 'true' }), timeoutMs: 30000 });
  assert.is(ci.code, 1, ci.out + ci.err);
  assert.match(ci.out, 'uvu: 1 passed, 0 failed, 1 skipped');
  assert.match(ci.out, 'CI=true: 1 skipped test(s) fail the run');
  const local = await run(process.execPath, args, { env: env({}), timeoutMs: 30000 });
  assert.is(local.code, 0, local.out + local.err);
  assert.match(local.out, 'uvu: 1 passed, 0 failed, 1 skipped');
});

test.run();
