// `npm test`: runs every uvu suite in test/ in one process, then prints the plain summary line
// ("N passed, N failed, N skipped") that CI reads, and exits non-zero on any failure. With CI=true a
// skipped test also fails the run: a suite that did not run must not look like one that passed.
// `node test/run.mjs [dir pattern] [uvu flags]`: dir and pattern default to test/ and every *.test.mjs.
import { spawn } from 'node:child_process';

const rest = process.argv.slice(2);
const where = rest.length >= 2 && !rest[0].startsWith('-') ? rest.splice(0, 2) : ['test', '\\.test\\.mjs$'];
const args = ['--expose-gc', 'node_modules/uvu/bin.js', ...where, ...rest];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d) => {
  out += d;
  process.stdout.write(d);
});
child.on('close', (code) => {
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const num = (label) => Number((plain.match(new RegExp(`${label}:\\s+(\\d+)`)) || [])[1] ?? 0);
  const total = num('Total');
  const passed = num('Passed');
  const skipped = num('Skipped');
  const failed = Math.max(total - passed - skipped, code ? 1 : 0);
  console.log(`\nuvu: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (process.env.CI === 'true' && skipped) {
    console.log(`CI=true: ${skipped} skipped test(s) fail the run (see the "skip:" lines above, or a test.only left in)`);
    process.exit(1);
  }
  process.exit(code || (failed ? 1 : 0));
});
