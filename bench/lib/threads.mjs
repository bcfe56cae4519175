// The `threads` section: Adam through the public API on a threaded arena (ready({ threads })),
// 1e5, 1e6 and 1e7 elements, and a compute-bound control (Ftrl with a pow per element), every
// thread count from 1 to the cores present, alternating sample by
// sample in one process (limitThreads() picks how many of the started workers a call uses), plus
// the sweep that sets the split threshold (DEFAULT_MIN_ELEMENTS in src/threads.ts): 1 thread
// against all of them at small sizes. The arena must be the process's first ready(), and
// bench/run.mjs has made its own already, so the measurement runs in a child process.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { race } from './measure.mjs';

/** Runs the measurement in a child process; resolves with its results. */
export function runThreads({ samples = 15, minMs = 20, sizes = [1e5, 1e6, 1e7], sweep = [4096, 16384, 32768, 65536, 131072, 262144] } = {}) {
  return new Promise((resolve, reject) => {
    const args = ['--expose-gc', fileURLToPath(import.meta.url), JSON.stringify({ samples, minMs, sizes, sweep })];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`threads bench child exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

/** The section's table lines. */
export function threadsTable(r) {
  const lines = [];
  lines.push(`### threads (ready({ threads: ${r.maxThreads} }), ${r.cores} cores, load average at start ${r.load.join(' ')})`);
  lines.push('');
  lines.push(`| step, n | ${r.counts.map((t) => `${t} thread${t > 1 ? 's' : ''}`).join(' | ')} | speed-up ${r.counts.at(-1)} vs 1 | cores the process got (${r.counts.join(' / ')} threads) |`);
  lines.push(`|---|${r.counts.map(() => '---|').join('')}---|---|`);
  for (const row of r.rows) {
    lines.push(`| ${row.label} ${row.n.toExponential(0)} | ${row.ms.map((m) => `${m.toFixed(3)} ms`).join(' | ')} | ${(row.ms[0] / row.ms.at(-1)).toFixed(2)}x | ${row.cores.join(' / ')} |`);
  }
  lines.push('');
  lines.push('| split threshold sweep: Adam, n | 1 thread | all threads (split) | ratio |');
  lines.push('|---|---|---|---|');
  for (const row of r.sweep) lines.push(`| ${row.n} | ${(row.ms[0] * 1000).toFixed(1)} us | ${(row.ms[1] * 1000).toFixed(1)} us | ${(row.ms[0] / row.ms[1]).toFixed(2)}x |`);
  return lines;
}

async function child({ samples, minMs, sizes, sweep }) {
  const wo = await import('../../build/index.js');
  const { limitThreads } = await import('../../build/threads.js');
  const cores = os.cpus().length;
  const maxThreads = Math.max(2, cores);
  // minElements 4: every size below is split when more than one thread is in use.
  await wo.ready({ threads: maxThreads, minElements: 4 });
  if (wo.threadCount() !== maxThreads) throw new Error(`threads bench: no threads here (${wo.threadFallbackReason()})`);
  const counts = Array.from({ length: maxThreads }, (_, i) => i + 1);
  const load = os.loadavg().map((x) => Number(x.toFixed(2)));
  const setup = (n, make = () => new wo.Adam()) => {
    const w = new wo.Variable(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
    const g = new wo.Variable(Float32Array.from({ length: n }, (_, i) => Math.cos(i)));
    const opt = make();
    const pairs = [[g.value, w]];
    opt.applyGradients(pairs);
    return { opt, pairs, dispose: () => (opt.dispose(), w.dispose(), g.dispose()) };
  };
  const measure = async (n, ks, opts, make) => {
    const s = setup(n, make);
    const res = await race(
      ks.map((k) => ({ id: String(k), before: () => limitThreads(k), run: (reps) => { for (let r = 0; r < reps; r++) s.opt.applyGradients(s.pairs); } })),
      opts,
    );
    s.dispose();
    return ks.map((k) => res.get(String(k)).ms);
  };
  // How many cores the process actually got while stepping with k threads (CPU time of all its
  // threads over wall time): on a machine shared with other jobs, a second thread may get little.
  const coresUsed = (n, k, make) => {
    const s = setup(n, make);
    limitThreads(k);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let steps = 0;
    while (performance.now() - t0 < 300) (s.opt.applyGradients(s.pairs), steps++);
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    s.dispose();
    return Number(((c.user + c.system) / 1000 / wall).toFixed(2));
  };
  // Warm-up, discarded: the first measurement of a fresh process ran 1.3-1.4x slower on both
  // counts (JIT of both threads' code, first touches of fresh memory), which hid the speed-up.
  await measure(1e6, counts, { samples: 5, minMs });
  const rows = [];
  for (const n of sizes) rows.push({ label: 'Adam', n, ms: await measure(n, counts, { samples, minMs }), cores: counts.map((k) => coresUsed(n, k)) });
  // A compute-bound control (Ftrl with learningRatePower -0.6: a pow per element): how the
  // machinery scales when memory bandwidth is not the limit.
  const ftrl = () => new wo.Ftrl({ learningRatePower: -0.6 });
  rows.push({ label: 'Ftrl, learningRatePower -0.6 (compute-bound)', n: 1e6, ms: await measure(1e6, counts, { samples: Math.min(samples, 9), minMs }, ftrl), cores: counts.map((k) => coresUsed(1e6, k, ftrl)) });
  const sw = [];
  for (const n of sweep) sw.push({ n, ms: await measure(n, [1, maxThreads], { samples, minMs: Math.min(minMs, 5) }) });
  limitThreads(maxThreads);
  wo.shutdownThreads();
  return { cores, maxThreads, counts, load, rows, sweep: sw };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await child(JSON.parse(process.argv[2] ?? '{}'));
  console.log(JSON.stringify(r));
}
