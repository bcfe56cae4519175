// `npm run bench` (node --expose-gc bench/run.mjs): every optimizer's step against its physical
// floors and against tf.train.*, sparse gradients, steady-state allocation, and model.fit end to
// end. Prints tables; a full run also writes bench/results.json, bench/chart*.svg and BENCHMARKS.md.
// A full run caps tf.train.* on the cpu backend at 1e6 elements (1e7 for Adam).
//   --quick            sizes 1e3..1e6, fewer samples, tf cpu capped at 1e5 (1e6 for Adam), allocation
//                      probes for Adam only, fewer model.fit epochs: under 2 minutes
//   --only=Adam,SGD    only these optimizers (export names) in the dense section
//   --sections=dense,sparse,alloc,fit,muon,kernel,int8,pipeline   run only these sections (also: threads)
//   --no-write         print only
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import * as wo from '../build/index.js';
import { probeInChild } from './lib/allocation.mjs';
import { discoverOptimizers, floorContenders, jsAdam, ourDense, shapeOf, tfDense, tfjs, TF_MATCH, arithOf } from './lib/contenders.mjs';
import { runFit } from './lib/fit.mjs';
import { race } from './lib/measure.mjs';
import * as report from './lib/report.mjs';
import { DIM, embeddingGradient, ourSparse, ROWS, TOUCHED, tfSparseBaseline } from './lib/sparse.mjs';

const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = flag('quick');
const only = option('only')?.split(',');
const sections = new Set((option('sections') ?? 'dense,sparse,alloc,fit,muon,kernel,int8,pipeline').split(','));
const write = !flag('no-write');

const config = quick
  ? { mode: 'quick', sizes: [1e3, 1e4, 1e5, 1e6], samples: 7, minMs: 5, tfCpuMax: 1e5, tfCpuMaxAdam: 1e6, allocAll: false, fitSamples: 3, sparseTfCpu: false }
  : // tf.train.* on cpu takes 0.5-5 s per step at 1e7: all seven would add about 6 minutes, so only Adam goes there.
    { mode: 'full', sizes: [1e3, 1e4, 1e5, 1e6, 1e7], samples: 21, minMs: 10, tfCpuMax: 1e6, tfCpuMaxAdam: 1e7, allocAll: true, fitSamples: 21, sparseTfCpu: true };
const firstLine = (e) => String(e?.message ?? e).split('\n')[0];

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
await wo.ready();
const tf = tfjs();

const pkgVersion = (name) => {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return null;
  }
};
const results = {
  meta: {
    date: new Date().toISOString(),
    mode: config.mode,
    samples: config.samples,
    minSampleMs: config.minMs,
    tfCpuMax: config.tfCpuMax,
    tfCpuMaxAdam: config.tfCpuMaxAdam,
    machine: {
      cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
      cores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      v8: process.versions.v8,
      loadAverageAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    },
    versions: {
      'wasm-optim': require('../package.json').version,
      '@tensorflow/tfjs-core': pkgVersion('@tensorflow/tfjs-core'),
      '@tensorflow/tfjs-backend-wasm': pkgVersion('@tensorflow/tfjs-backend-wasm'),
      '@tensorflow/tfjs-layers': pkgVersion('@tensorflow/tfjs-layers'),
    },
  },
  dense: [],
  allocation: null,
  sparse: null,
  fit: null,
};

console.log(report.machineLine(results.meta));
console.log(`mode ${config.mode}: sizes ${config.sizes.map(report.fmtN).join(', ')}; median of ${config.samples} samples of >= ${config.minMs} ms, contenders alternating sample by sample\n`);

// ------------------------------------------------------------------ dense steps
if (sections.has('dense')) {
  const entries = discoverOptimizers().filter((e) => !only || only.includes(e.key));
  console.log(report.denseHeader());
  for (const entry of entries) {
    if (!entry.make) {
      console.log(`| ${entry.label}: skipped (constructs neither with {} nor around an SGD)`);
      results.dense.push({ key: entry.key, label: entry.label, skipped: 'constructs neither with {} nor around an SGD' });
      continue;
    }
    if (entry.key === 'Muon') {
      // Its step is matrix products (n³ work on an n x n table), not a stream over the weights: the muon section times it.
      console.log('| Muon: timed in the muon section (Newton-Schulz against tf.matMul)');
      results.dense.push({ key: entry.key, label: entry.label, skipped: 'timed in the muon section' });
      continue;
    }
    const { arith, known } = arithOf(entry);
    const row = { key: entry.key, label: entry.label, className: entry.className, arith, arithKnown: known, sizes: {} };
    const tfFactory = TF_MATCH[entry.key];
    row.tf = tfFactory ? `tf.train.${tfFactory.tfName}` : null;
    const cpuCap = entry.key === 'Adam' ? config.tfCpuMaxAdam : config.tfCpuMax;
    for (const n of config.sizes) {
      const parts = []; // everything to dispose
      try {
        const ours = ourDense(entry, n);
        parts.push(ours);
        row.slots = ours.slots;
        const fl = floorContenders(n, ours.slots, row.arith);
        parts.push(fl);
        row.streamKernel = fl.streamKernel;
        const contenders = [...ours.contenders, ...fl.contenders];
        if (entry.key === 'Adam') contenders.push(jsAdam(n));
        if (tfFactory) {
          const tfs = [await tfDense(tfFactory, shapeOf(n), 'wasm', 'tfWasm')];
          if (n <= cpuCap) tfs.push(await tfDense(tfFactory, shapeOf(n), 'cpu', 'tfCpu'));
          parts.push(...tfs);
          contenders.push(...tfs);
        }
        row.sizes[n] = Object.fromEntries(await race(contenders, config));
        console.log(report.denseLine(row, n));
      } catch (e) {
        // One broken optimizer must not cost the rest of the run.
        row.error = `at n=${n}: ${firstLine(e)}`;
        console.log(`| ${entry.label}: error ${row.error}`);
        break;
      } finally {
        for (const p of parts) p.dispose();
      }
    }
    results.dense.push(row);
  }
  if (config.sizes.includes(1e6)) console.log(['', 'Every optimizer at 1e6 elements, next to its floors:', '', ...report.floorsAt(results.dense, 1e6)].join('\n'));
  console.log(`\n(dense section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ steady-state allocation
if (sections.has('alloc')) {
  const n = 1e4;
  const steps = 10000;
  const baseline = probeInChild('baseline', 'none', true, { n, steps });
  // V8's tiering is timing-dependent (a recompilation landing mid-run can leave a call out of line
  // for a while, and its numbers boxed): a probe that allocates is run again, up to three fresh
  // processes, and the best counts (as in the tests). A step that allocates does so in every one.
  const probe = (key, kind, simd) => {
    let best = probeInChild(key, kind, simd, { n, steps });
    for (let attempt = 1; attempt < 3 && !(best.jsAllocatedBytesPerStep < 1); attempt++) {
      const again = probeInChild(key, kind, simd, { n, steps });
      if (again.jsAllocatedBytesPerStep < (best.jsAllocatedBytesPerStep ?? Infinity)) best = again;
    }
    return best;
  };
  const rows = [];
  for (const entry of discoverOptimizers()) {
    if (!entry.make || (only && !only.includes(entry.key)) || (!config.allocAll && entry.key !== 'Adam')) continue;
    rows.push(probe(entry.key, 'wasm', true));
    if (entry.key === 'Adam') {
      rows.push(probe(entry.key, 'js', true));
      rows.push(probe(entry.key, 'wasm', false));
    }
    if (['Adam', 'LazyAdam', 'SGD', 'Adagrad'].includes(entry.key)) rows.push(probe(entry.key, 'sparse', true));
  }
  results.allocation = { elements: n, steps, baseline, rows };
  console.log(report.allocationTable(results.allocation).join('\n'));
  console.log(`\n(allocation section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ sparse embedding table
if (sections.has('sparse')) {
  const grad = embeddingGradient();
  const all = discoverOptimizers();
  const entries = ['Adam', 'LazyAdam', 'SGD', 'Adagrad'].map((k) => all.find((e) => e.key === k && e.make)).filter(Boolean);
  const parts = []; // everything to dispose
  const contenders = [];
  const measured = [];
  const errors = [];
  for (const e of entries) {
    try {
      const p = ourSparse(e, grad);
      parts.push(p);
      contenders.push(...p.contenders);
      measured.push(e.key);
    } catch (err) {
      errors.push(`${e.key}: ${firstLine(err)}`);
    }
  }
  try {
    for (const backend of config.sparseTfCpu ? ['wasm', 'cpu'] : ['wasm']) {
      const t = await tfSparseBaseline(backend, grad);
      parts.push(t);
      contenders.push(t);
    }
    const stats = await race(contenders, config);
    results.sparse = { rows: ROWS, dim: DIM, indices: TOUCHED, uniqueRows: grad.unique, optimizers: measured, errors, stats: Object.fromEntries(stats) };
    console.log(report.sparseTable(results.sparse).join('\n'));
  } catch (err) {
    results.sparse = { error: firstLine(err), errors };
    console.log(`sparse section failed: ${results.sparse.error}`);
  } finally {
    for (const p of parts) p.dispose();
  }
  console.log(`\n(sparse section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ Muon: Newton-Schulz vs tf.matMul
if (sections.has('muon')) {
  const { runMuon } = await import('./lib/muon.mjs');
  try {
    results.muon = await runMuon(tf, { samples: quick ? 5 : 11, minMs: config.minMs });
  } catch (err) {
    results.muon = { error: firstLine(err) };
    console.log(`muon section failed: ${results.muon.error}`);
  }
  console.log(`\n(muon section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ kernel(): compiled at run time
if (sections.has('kernel')) {
  const { runKernelBench, kernelTable } = await import('./lib/kernel.mjs');
  try {
    results.kernel = await runKernelBench({ samples: quick ? 5 : 11, minMs: config.minMs });
  } catch (err) {
    results.kernel = { error: firstLine(err) };
  }
  console.log(kernelTable(results.kernel).join('\n'));
  console.log(`\n(kernel section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ 8-bit optimizer state (stateDtype 'int8')
if (sections.has('int8')) {
  const { runInt8Bench, int8Table } = await import('./lib/int8.mjs');
  try {
    results.int8 = await runInt8Bench({ samples: quick ? 5 : 11, minMs: config.minMs, sizes: quick ? [1e6] : [1e6, 1e7] });
  } catch (err) {
    results.int8 = { error: firstLine(err) };
  }
  console.log(int8Table(results.int8).join('\n'));
  console.log(`\n(int8 section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ the fine-tuning recipe in one pass
if (sections.has('pipeline')) {
  const { pipelineTable } = await import('./lib/pipeline.mjs');
  const { spawnSync } = await import('node:child_process');
  // A fresh process (see bench/lib/pipeline.mjs): the earlier sections' memory slows this one unevenly.
  const options = { samples: quick ? 5 : 11, minMs: config.minMs, sizes: quick ? [[1e6, 8]] : [[1e6, 8], [1e7, 1]] };
  const child = spawnSync(process.execPath, ['--expose-gc', new URL('./lib/pipeline.mjs', import.meta.url).pathname, JSON.stringify(options)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  try {
    if (child.status !== 0) throw new Error(child.stderr || `exit ${child.status}`);
    results.pipeline = JSON.parse(child.stdout.trim().split('\n').pop());
  } catch (err) {
    results.pipeline = { error: firstLine(err) };
  }
  console.log(pipelineTable(results.pipeline).join('\n'));
  console.log(`\n(pipeline section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ model.fit end to end
if (sections.has('fit')) {
  try {
    results.fit = await runFit(tf, { fitSamples: config.fitSamples });
  } catch (err) {
    results.fit = { status: 'not run', reason: `failed: ${firstLine(err)}` };
  }
  console.log(report.fitTable(results.fit).join('\n'));
  console.log(`\n(fit section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ threads (opt-in section)
// `--sections=threads`: Adam at 1e6 and 1e7 on a threaded arena, every thread count up to the
// cores present, plus the split-threshold sweep (bench/lib/threads.mjs; runs in a child process).
if (sections.has('threads')) {
  const { runThreads, threadsTable } = await import('./lib/threads.mjs');
  try {
    results.threads = await runThreads(quick ? { samples: 7, minMs: 10 } : { samples: 15, minMs: 20 });
    console.log(threadsTable(results.threads).join('\n'));
  } catch (err) {
    results.threads = { status: 'not run', reason: `failed: ${firstLine(err)}` };
    console.log(`threads section failed: ${results.threads.reason}`);
  }
  console.log(`\n(threads section done at ${elapsed()})\n`);
}

// ------------------------------------------------------------------ summary and files
results.meta.seconds = Math.round((performance.now() - started) / 1000);
const summary = report.targets(results);
results.targets = summary;
console.log(report.targetsTable(summary).join('\n'));
console.log(`\ntotal ${elapsed()}`);

if (write) {
  const dir = new URL('./', import.meta.url);
  if (quick) {
    writeFileSync(new URL('results-quick.json', dir), JSON.stringify(results, null, 1) + '\n');
    console.log('wrote bench/results-quick.json (a quick run does not touch results.json, the charts or BENCHMARKS.md)');
  } else {
    writeFileSync(new URL('results.json', dir), JSON.stringify(results, null, 1) + '\n');
    writeFileSync(new URL('chart.svg', dir), report.adamChart(results));
    writeFileSync(new URL('chart-optimizers.svg', dir), report.optimizersChart(results));
    writeFileSync(new URL('../BENCHMARKS.md', dir), report.markdown(results));
    console.log('wrote bench/results.json, bench/chart.svg, bench/chart-optimizers.svg and BENCHMARKS.md');
  }
}
