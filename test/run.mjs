// `npm test`: runs every uvu suite in test/ in one process, then prints the plain summary line
// ("N passed, N failed") that CI reads, and exits non-zero on any failure.
import { spawn } from 'node:child_process';

const args = ['--expose-gc', 'node_modules/uvu/bin.js', 'test', '\\.test\\.mjs$', ...process.argv.slice(2)];
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
  process.exit(code || (failed ? 1 : 0));
});
