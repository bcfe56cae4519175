// The short soak (`npm run soak` runs the full 100,000 steps): a fresh process trains 100
// variables with Adam through the core and the tfjs entry, and nothing may accumulate: JS heap
// within noise, wasm memory, arena bytes and tfjs' tensor count exactly constant, weights finite.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { repoFile } from './helpers/load-ts.mjs';

test('short soak: Adam over 100 variables, nothing grows, results stay finite (core and tfjs)', () => {
  const out = spawnSync(process.execPath, ['--expose-gc', repoFile('test', 'soak', 'soak.mjs'), '--short'], { encoding: 'utf8', timeout: 120000 });
  const line = out.stdout.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
  assert.ok(line, `the soak printed no result (exit ${out.status}):\n${out.stdout}\n${out.stderr}`);
  const result = JSON.parse(line.slice('SOAK_RESULT '.length));
  for (const l of out.stdout.split('\n')) if (l && !l.startsWith('SOAK_RESULT')) console.log(`  ${l.trim()}`);
  assert.equal(result.failures, [], out.stderr);
  assert.is(out.status, 0, out.stderr);
  const { core } = result;
  assert.is(core.variables, 100);
  assert.ok(core.finite);
  assert.is(core.wasmMemory.end, core.wasmMemory.afterWarmup);
  assert.is(core.arenaLiveBytes.end, core.arenaLiveBytes.afterWarmup);
  assert.ok(core.loss.end < core.loss.start);
  const tfjs = result.tfjs.wasm;
  assert.ok(tfjs && !tfjs.skipped, `the tfjs soak did not run: ${tfjs?.skipped}`);
  assert.is(tfjs.mode, 'zero-copy');
  assert.ok(tfjs.finite);
  assert.is(tfjs.tensors.end, tfjs.tensors.afterWarmup);
  assert.is(tfjs.wasmMemory.end, tfjs.wasmMemory.afterWarmup);
});

test.run();
