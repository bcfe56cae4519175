// Tests that must not be able to lie: with CI=true a runtime suite whose runtime is missing fails
// (it is not skipped), and `npm test` (test/run.mjs) fails on any skipped test. Outside CI the
// suites still skip with a printed reason. Runtimes are hidden through the harness's test seam.
// .ci/run is run with fake apt-get, npm and chromium: it must install Chromium (one retry) or fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { run } from './runtimes/harness.mjs';

const SUITES = 'runtimes-(deno|bun|workerd|workerd-int8|edge|chromium|chromium-threads)\\.test\\.mjs$';
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
  assert.is(count(out, 'Total'), 10, out); // deno 2, bun 2, workerd 1, workerd-int8 1, edge 1, chromium 2, chromium-threads 1
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
  assert.is(count(out, 'Skipped'), 10, out);
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

/**
 * Runs .ci/run with fakes first on PATH: apt-get fails its first `failures` calls (then "installs" a
 * chromium when `installs`), npm exits with `npmTestCode` on `npm test`, sleep returns at once. Every
 * call is logged. Resolves { code, out, calls }.
 */
async function ciRun({ failures, installs, npmTestCode = 0 }) {
  const dir = mkdtempSync(`${tmpdir()}/wasm-optim-ci-`);
  try {
    const chromium = `${dir}/chromium`;
    const log = `${dir}/calls.log`;
    const script = (name, body) => {
      writeFileSync(`${dir}/${name}`, `#!/usr/bin/env bash\necho "${name} $* CI=$CI" >> ${log}\n${body}\n`);
      chmodSync(`${dir}/${name}`, 0o755);
    };
    script('sleep', 'exit 0');
    script(
      'apt-get',
      `n=$(grep -c '^apt-get' ${log}); if [ "$n" -le ${failures} ]; then exit 100; fi
       if [ "$1" = install ] && [ ${installs ? 1 : 0} = 1 ]; then printf '#!/bin/sh\\necho "Chromium 1.0"\\n' > ${chromium}; chmod +x ${chromium}; fi`,
    );
    script('npm', `if [ "$1" = test ]; then exit ${npmTestCode}; fi`);
    const { CI, ...env } = process.env;
    const res = await run('bash', ['.ci/run'], { env: { ...env, PATH: `${dir}:${env.PATH}`, CHROMIUM_BIN: chromium }, timeoutMs: 30000 });
    const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    return { code: res.code, out: res.out + res.err, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('.ci/run: Chromium cannot be installed (twice) -> exits non-zero before npm', async () => {
  const r = await ciRun({ failures: 99, installs: true });
  assert.is(r.code, 1, r.out);
  assert.match(r.out, 'error: could not install chromium');
  assert.is(r.calls.filter((c) => c.startsWith('apt-get update')).length, 2, `one retry:\n${r.calls.join('\n')}`);
  assert.not.ok(r.calls.some((c) => c.startsWith('npm')), 'npm must not run');
});

test('.ci/run: apt-get succeeds but no working chromium -> exits non-zero', async () => {
  const r = await ciRun({ failures: 0, installs: false });
  assert.is(r.code, 1, r.out);
  assert.match(r.out, '--version` does not work after installing chromium');
  assert.not.ok(r.calls.some((c) => c.startsWith('npm')));
});

test('.ci/run: the retry installs Chromium, then npm ci and npm test run with CI=true; a failing npm test fails it', async () => {
  const r = await ciRun({ failures: 1, installs: true });
  assert.is(r.code, 0, r.out);
  assert.match(r.out, 'retrying once');
  assert.match(r.out, 'Chromium 1.0');
  assert.equal(r.calls.filter((c) => c.startsWith('npm')), ['npm ci --no-audit --no-fund CI=true', 'npm test CI=true']);
  const failing = await ciRun({ failures: 0, installs: true, npmTestCode: 3 });
  assert.is(failing.code, 3, failing.out);
});

test.run();
