// `npm run demo` (Node): one epoch per optimizer; it must finish, print the table, every run's loss
// must fall, and the chart it writes must hold one curve per run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { run } from './runtimes/harness.mjs';

test('npm run demo: trains every optimizer, prints the table, writes the loss chart', async () => {
  const dir = mkdtempSync(`${tmpdir()}/wasm-optim-demo-`);
  try {
    const res = await run(process.execPath, ['examples/demo/run.mjs', '--epochs', '1', '--out', `${dir}/loss.svg`], { timeoutMs: 90000 });
    assert.is(res.code, 0, res.err);
    const rows = res.out.split('\n').filter((l) => /^(tf\.train|wasm-optim)/.test(l) && /%\s*$/.test(l));
    assert.is(rows.length, 6, `table rows:\n${res.out}`);
    for (const row of rows) {
      const loss = Number(row.match(/\s(\d+\.\d{4})\s/)[1]);
      assert.ok(loss < 1.2, `the loss did not fall (it starts near 2.3): ${row}`);
    }
    const svg = readFileSync(`${dir}/loss.svg`, 'utf8');
    assert.is(svg.match(/<polyline /g)?.length, 6);
    console.log(`  demo (1 epoch) in ${(res.ms / 1000).toFixed(1)} s:\n${rows.map((r) => `    ${r}`).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
