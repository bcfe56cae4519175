// Formatting: terminal tables (pipe tables, which are also Markdown), the targets, the SVG charts
// and BENCHMARKS.md. Everything here reads results.json's structure and nothing else (the sections
// kept in their own modules format their own tables).
import { int8Table } from './int8.mjs';
import { pipelineTable } from './pipeline.mjs';
import { kernelTable } from './kernel.mjs';
import { muonTable } from './muon.mjs';

// ------------------------------------------------------------------ numbers

export const fmtN = (n) => `1e${Math.round(Math.log10(n))}`;

const sig = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** A step time in ms, in the unit that reads best. */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${sig(ms / 1000)} s`;
  if (ms >= 1) return `${sig(ms)} ms`;
  if (ms >= 1e-3) return `${sig(ms * 1e3)} µs`;
  return `${sig(ms * 1e6)} ns`;
}

const fmtX = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}x`);
const ms = (cell, id) => cell?.[id]?.ms ?? null;
const ratio = (a, b) => (a === null || b === null ? null : a / b);

// ------------------------------------------------------------------ tables

function table(headers, rows, align = []) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const cell = (s, i) => (align[i] === 'l' ? String(s).padEnd(widths[i]) : String(s).padStart(widths[i]));
  return [
    `| ${headers.map(cell).join(' | ')} |`,
    `|${widths.map((w, i) => (align[i] === 'l' ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

export function machineLine(meta) {
  const m = meta.machine;
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node} (V8 ${m.v8}); load average ${m.loadAverageAtStart.join(' ')} at start`;
}

/**
 * The floor an optimizer is compared to, from the floors measured in the same group: the larger of
 * its memory floor (the faster of the two ways to move its bytes: the SIMD stream or memory.copy)
 * and its arithmetic floor.
 */
function floorOf(cell) {
  const mem = [ms(cell, 'floorStream'), ms(cell, 'floorCopy')].filter((x) => x !== null);
  const xs = [mem.length ? Math.min(...mem) : null, ms(cell, 'floorArith')].filter((x) => x !== null);
  return xs.length ? Math.max(...xs) : null;
}

const DENSE_COLUMNS = [
  ['optimizer', 'l', (row) => row.label],
  ['n', 'r', (row, n) => fmtN(n)],
  ['SIMD', 'r', (row, n, c) => fmtMs(ms(c, 'simd'))],
  ['SIMD, JS grad', 'r', (row, n, c) => fmtMs(ms(c, 'simdJsGrad'))],
  ['scalar', 'r', (row, n, c) => fmtMs(ms(c, 'scalar'))],
  ['stream floor', 'r', (row, n, c) => fmtMs(ms(c, 'floorStream'))],
  ['memory.copy', 'r', (row, n, c) => fmtMs(ms(c, 'floorCopy'))],
  ['arith floor', 'r', (row, n, c) => (row.arith ? fmtMs(ms(c, 'floorArith')) : row.arithKnown ? 'none' : '?')],
  ['SIMD/floor', 'r', (row, n, c) => fmtX(ratio(ms(c, 'simd'), floorOf(c)))],
  ['tf wasm', 'r', (row, n, c) => fmtMs(ms(c, 'tfWasm'))],
  ['tf wasm/SIMD', 'r', (row, n, c) => fmtX(ratio(ms(c, 'tfWasm'), ms(c, 'simd')))],
  ['tf cpu', 'r', (row, n, c) => fmtMs(ms(c, 'tfCpu'))],
  ['tf cpu/SIMD', 'r', (row, n, c) => fmtX(ratio(ms(c, 'tfCpu'), ms(c, 'simd')))],
  ['JS loop', 'r', (row, n, c) => fmtMs(ms(c, 'js'))],
];
const DENSE_WIDTHS = [24, 3, 9, 13, 9, 12, 11, 11, 10, 9, 12, 9, 11, 9];

export function denseHeader() {
  const cells = DENSE_COLUMNS.map(([h, a], i) => (a === 'l' ? h.padEnd(DENSE_WIDTHS[i]) : h.padStart(DENSE_WIDTHS[i])));
  return `| ${cells.join(' | ')} |`;
}

export function denseLine(row, n) {
  const c = row.sizes[n];
  const cells = DENSE_COLUMNS.map(([, a, f], i) => {
    const s = String(f(row, n, c));
    return a === 'l' ? s.padEnd(DENSE_WIDTHS[i]) : s.padStart(DENSE_WIDTHS[i]);
  });
  return `| ${cells.join(' | ')} |`;
}

function denseTable(rows, sizes) {
  const body = [];
  for (const row of rows) {
    if (row.skipped) continue;
    for (const n of sizes) if (row.sizes[n]) body.push(DENSE_COLUMNS.map(([, , f]) => f(row, n, row.sizes[n])));
  }
  return table(DENSE_COLUMNS.map(([h]) => h), body, DENSE_COLUMNS.map(([, a]) => a));
}

/** Every optimizer's step at size n next to its memory and arithmetic floors. */
export function floorsAt(rows, n) {
  const body = rows
    .filter((r) => !r.skipped && r.sizes[n])
    .map((r) => {
      const c = r.sizes[n];
      return [
        r.label,
        String(r.slots),
        fmtMs(ms(c, 'simd')),
        `${fmtMs(ms(c, 'floorStream'))} (${r.streamKernel})`,
        fmtMs(ms(c, 'floorCopy')),
        r.arith ? `${fmtMs(ms(c, 'floorArith'))} (${r.arith === 'sqrtDiv' ? 'sqrt+div' : 'div'})` : r.arithKnown ? 'none' : '? (unclassified)',
        fmtMs(floorOf(c)),
        fmtX(ratio(ms(c, 'simd'), floorOf(c))),
        fmtX(ratio(ms(c, 'scalar'), ms(c, 'simd'))),
        r.tf ?? '–',
        fmtX(ratio(ms(c, 'tfWasm'), ms(c, 'simd'))),
        fmtX(ratio(ms(c, 'tfCpu'), ms(c, 'simd'))),
      ];
    });
  return table(
    ['optimizer', 'slots', 'SIMD step', 'stream (memory)', 'memory.copy (memory)', 'arithmetic', 'floor', 'SIMD / floor', 'scalar / SIMD', 'tf.train', 'tf wasm / SIMD', 'tf cpu / SIMD'],
    body,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r'],
  );
}

/** Net JS bytes allocated per step (the empty loop's figure subtracted), or null when a GC spoiled it. */
const netAlloc = (a, r) => (r.jsAllocatedBytesPerStep === null || r.jsAllocatedBytesPerStep === undefined ? null : Math.max(0, r.jsAllocatedBytesPerStep - (a.baseline.jsAllocatedBytesPerStep ?? 0)));

export function allocationTable(a) {
  const gradient = { wasm: 'wasm view', js: 'JS heap (copied in)', sparse: 'sparse (JS heap)' };
  const body = a.rows.map((r) =>
    r.error
      ? [r.label, gradient[r.gradient], r.simd ? 'SIMD' : 'scalar', `error: ${r.error}`, '', '', '', '']
      : [
          r.label,
          gradient[r.gradient],
          r.simd ? 'SIMD' : 'scalar',
          netAlloc(a, r) === null ? 'GC ran' : netAlloc(a, r).toFixed(2),
          r.jsRetainedBytesPerStep.toFixed(2),
          String(r.wasmMemoryAfter - r.wasmMemoryBefore),
          String(r.arenaLiveAfter - r.arenaLiveBefore),
          r.bytesLeftAfterDispose === 0 ? 'yes' : `no (${r.bytesLeftAfterDispose} B left)`,
        ],
  );
  return [
    `Steady-state allocation, one fresh process per row (one that allocates: the best of up to three, as V8's tiering is timing-dependent): ${a.steps} steps on ${a.elements} elements after 5,000 warm-up steps; allocated: smallest of 5 windows (empty-loop figure ${(a.baseline.jsAllocatedBytesPerStep ?? 0).toFixed(3)} B/step subtracted), retained: largest`,
    '',
    ...table(
      ['optimizer', 'gradient', 'kernels', 'JS bytes allocated/step', 'JS bytes retained/step (after GC)', 'wasm memory growth (B)', 'arena growth (B)', 'dispose() frees all'],
      body,
      ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'l'],
    ),
  ];
}

export function sparseTable(s) {
  if (s.error) return [`Sparse: not measured (${s.error})`];
  const st = s.stats;
  const rows = [];
  for (const key of s.optimizers) {
    const sp = st[`${key}:sparse`]?.ms ?? null;
    const de = st[`${key}:dense`]?.ms ?? null;
    rows.push([key, fmtMs(sp), fmtMs(de), fmtX(ratio(de, sp)), fmtX(ratio(st['tfAdam:wasm']?.ms ?? null, sp)), fmtX(ratio(st['tfAdam:cpu']?.ms ?? null, sp))]);
  }
  return [
    `Sparse: ${s.rows} x ${s.dim} table, ${s.indices} gathered rows (${s.uniqueRows} distinct, ${((100 * s.uniqueRows) / s.rows).toFixed(1)}% of the table)`,
    '',
    ...table(['optimizer', 'sparse path', 'dense path', 'dense / sparse', 'tf wasm / sparse', 'tf cpu / sparse'], rows, ['l', 'r', 'r', 'r', 'r', 'r']),
    '',
    `tf.train.adam on the dense [${s.rows}, ${s.dim}] gradient: wasm ${fmtMs(st['tfAdam:wasm']?.ms)}, cpu ${fmtMs(st['tfAdam:cpu']?.ms)}`,
    ...(s.errors ?? []).map((e) => `not measured: ${e}`),
  ];
}

export function fitTable(f) {
  if (f.status !== 'ok') return [`model.fit end to end: not run (${f.reason})`];
  const st = f.stats;
  const rows = ['wasm', 'cpu'].map((b) => [
    b,
    fmtMs(st[`ours:${b}`]?.ms),
    fmtMs(st[`tf:${b}`]?.ms),
    fmtX(ratio(st[`tf:${b}`]?.ms ?? null, st[`ours:${b}`]?.ms ?? null)),
    `${f.finalLoss[`ours:${b}`]?.toPrecision(4)} / ${f.finalLoss[`tf:${b}`]?.toPrecision(4)}`,
  ]);
  return [
    `model.fit, one epoch (${f.samples} samples, batch ${f.batchSize}, ${f.stepsPerEpoch} steps) of an ${f.model}`,
    '',
    ...table(['backend', 'wasm-optim adam()', 'tf.train.adam', 'speed-up', 'last loss (ours / tf)'], rows, ['l', 'r', 'r', 'r', 'r']),
  ];
}

// ------------------------------------------------------------------ targets (reported, not asserted)

export function targets(results) {
  const out = [];
  const adam = results.dense.find((r) => r.key === 'Adam');
  const c = adam?.sizes?.[1e6];
  if (c) {
    const issue2 = Math.max(ms(c, 'floorStream'), ms(c, 'floorArith'));
    out.push({
      target: 'Adam step at 1e6 within 1.25x of max(read-4-write-3 stream, sqrt+div)',
      measured: `${fmtMs(ms(c, 'simd'))} (interquartile ${fmtMs(c.simd.q1)}-${fmtMs(c.simd.q3)}) vs max(${fmtMs(ms(c, 'floorStream'))}, ${fmtMs(ms(c, 'floorArith'))}) = ${fmtX(ms(c, 'simd') / issue2)}`,
      met: ms(c, 'simd') / issue2 <= 1.25,
    });
    const w = ratio(ms(c, 'tfWasm'), ms(c, 'simd'));
    out.push({ target: 'Adam at 1e6: >= 8x tf.train.adam on the wasm backend', measured: fmtX(w), met: w !== null && w >= 8 });
    const cp = ratio(ms(c, 'tfCpu'), ms(c, 'simd'));
    out.push({ target: 'Adam at 1e6: >= 50x tf.train.adam on the cpu backend', measured: fmtX(cp), met: cp !== null && cp >= 50 });
  }
  const s = results.sparse;
  if (s && !s.error) {
    const lazy = s.stats['LazyAdam:sparse']?.ms ?? null;
    const dense = s.stats['Adam:dense']?.ms ?? null;
    const own = s.stats['Adam:sparse']?.ms ?? null;
    if (lazy !== null) {
      out.push({
        target: 'sparse path >= 50x the dense path at 1% rows touched (LazyAdam sparse vs Adam dense)',
        measured: `${fmtMs(lazy)} vs ${fmtMs(dense)} = ${fmtX(dense / lazy)}`,
        met: dense / lazy >= 50,
      });
    }
    const sgdS = s.stats['SGD:sparse']?.ms ?? null;
    const sgdD = s.stats['SGD:dense']?.ms ?? null;
    if (sgdS !== null) {
      out.push({ target: 'sparse path >= 50x the dense path (SGD, scatter update)', measured: `${fmtMs(sgdS)} vs ${fmtMs(sgdD)} = ${fmtX(sgdD / sgdS)}`, met: sgdD / sgdS >= 50 });
    }
    if (own !== null) {
      out.push({
        target: "Adam's own sparse path (Keras semantics: moments decay on every row, so it is dense work)",
        measured: `${fmtMs(own)} vs ${fmtMs(dense)} dense = ${fmtX(dense / own)}`,
        met: null,
      });
    }
  }
  const a = results.allocation;
  if (a) {
    const ok = a.rows.filter((r) => !r.error);
    // Below 1 byte per step: no object, string or boxed number is created per step.
    const clean = (r) => netAlloc(a, r) !== null && netAlloc(a, r) < 1 && r.wasmMemoryAfter === r.wasmMemoryBefore && r.arenaLiveAfter === r.arenaLiveBefore;
    const adamRows = ok.filter((r) => r.key === 'Adam');
    const show = (r) => `${r.label} (${r.gradient}${r.simd ? '' : ', scalar'}) ${netAlloc(a, r) === null ? '? (a GC ran)' : `${netAlloc(a, r).toFixed(2)} B/step`}`;
    out.push({
      target: `Adam: zero bytes allocated per steady-state step (${a.steps} steps on ${a.elements} elements; JS heap and wasm memory)`,
      measured: adamRows.map(show).join('; '),
      met: adamRows.length > 0 && adamRows.every(clean),
    });
    const dirty = ok.filter((r) => !clean(r));
    out.push({
      target: 'every optimizer: zero bytes allocated per steady-state step',
      measured: `${ok.length - dirty.length} of ${ok.length} probes allocate nothing${dirty.length ? `; ${dirty.map(show).join('; ')}` : ''}${a.rows.length > ok.length ? `; ${a.rows.length - ok.length} probes failed` : ''}`,
      met: dirty.length === 0 && ok.length === a.rows.length,
    });
  }
  out.push(...sectionTargets(results));
  return out;
}

/** The goals of the kernel(), Muon and 8-bit sections (issues #11, #12, #15). */
function sectionTargets(results) {
  const out = [];
  const k = results.kernel;
  if (k && !k.error) {
    out.push({ target: 'kernel(): Adam written with kernel() within 1.1x of the built-in Adam kernel at 1e6', measured: fmtX(k.adamRatio), met: k.adamRatio <= 1.1 });
    out.push({ target: 'kernel(): AdaBelief at least 8x faster than the plain TypeScript loop at 1e6', measured: fmtX(k.adabeliefSpeedup), met: k.adabeliefSpeedup >= 8 });
    const slowest = Math.max(k.compile.adam.medianMs, k.compile.adabelief.medianMs);
    out.push({ target: 'kernel(): compile time under 5 ms', measured: `${slowest.toFixed(2)} ms (median of 25 cold compiles, slower of Adam and AdaBelief)`, met: slowest < 5 });
    out.push({ target: 'kernel(): cost of the fallback path (no run-time compilation)', measured: `Adam ${fmtX(k.adamFallbackRatio)} the built-in, AdaBelief ${fmtX(k.adabeliefFallbackRatio)} its compiled kernel`, met: null });
  }
  const m = results.muon;
  if (m && !m.error) {
    const vs = Object.entries(m.sizes).filter(([, r]) => r.ns?.ours && r.ns?.tfWasmNN);
    if (vs.length) {
      const worst = Math.min(...vs.map(([, r]) => r.ns.tfWasmNN.ms / r.ns.ours.ms));
      out.push({
        target: "Muon: Newton-Schulz (5 steps) faster than tfjs' tf.matMul on the wasm backend (XNNPACK), 256..1024",
        measured: vs.map(([n, r]) => `${n}: ${fmtX(r.ns.tfWasmNN.ms / r.ns.ours.ms)}`).join(', ') + " (against tfjs' faster X·transpose(X) form)",
        met: worst > 1,
      });
    }
  }
  const q = results.int8;
  if (q && !q.error) {
    const at = (n) => q.rows.find((r) => r.optimizer === 'Adam' && r.n === n);
    const a6 = at(1e6);
    const a7 = at(1e7);
    if (a6) out.push({ target: 'int8 Adam within 1.3x of float32 Adam at 1e6', measured: fmtX(a6.ratio), met: a6.ratio <= 1.3 });
    if (a7) out.push({ target: 'int8 Adam faster than float32 Adam at 1e7', measured: `${fmtX(a7.ratio)} float32's time`, met: a7.ratio < 1 });
    if (a6) out.push({ target: 'int8 Adam: <= 2.1 bytes of optimizer state per parameter at 1e6', measured: `${a6.int8BytesPerParam.toFixed(3)} B`, met: a6.int8BytesPerParam <= 2.1 });
  }
  const p = results.pipeline;
  if (p && !p.error) {
    for (const r of p.rows) {
      if (r.config === 'Adam') continue;
      out.push({ target: `${r.config} within ${r.goal.toFixed(2)}x of Adam at ${r.variables} x ${fmtN(r.n)}`, measured: fmtX(r.ratio), met: r.met });
    }
  }
  return out;
}

export function targetsTable(summary) {
  return [
    'Targets (reported, not asserted):',
    '',
    ...table(['target', 'measured', 'met'], summary.map((t) => [t.target, t.measured, t.met === null ? '(info)' : t.met ? 'yes' : 'NO']), ['l', 'l', 'l']),
  ];
}

// ------------------------------------------------------------------ SVG charts (no dependencies)

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A log-log line chart. series: [{ name, color, dash?, points: [[x, y], ...] }] */
function lineChart({ title, subtitle, series, xLabel, yLabel, xFormat, yFormat }) {
  const W = 960;
  const H = 520;
  const L = 78;
  const R = 270;
  const T = 58;
  const B = 56;
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  const lx = pts.map(([x]) => Math.log10(x));
  const ly = pts.map(([, y]) => Math.log10(y));
  const x0 = Math.floor(Math.min(...lx));
  const x1 = Math.ceil(Math.max(...lx));
  const y0 = Math.floor(Math.min(...ly));
  const y1 = Math.ceil(Math.max(...ly));
  const px = (x) => L + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y) => H - B - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * (H - T - B);
  const f = (v) => v.toFixed(1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${L}" y="24" font-size="16" font-weight="bold" fill="#222">${esc(title)}</text>`,
  ];
  if (subtitle) out.push(`<text x="${L}" y="42" fill="#555">${esc(subtitle)}</text>`);
  // Grid: decades (labelled) and 2..9 minor lines.
  for (let e = y0; e <= y1; e++) {
    for (let k = 1; k < 10 && (k === 1 || e < y1); k++) {
      const y = py(k * 10 ** e);
      out.push(`<line x1="${L}" y1="${f(y)}" x2="${W - R}" y2="${f(y)}" stroke="${k === 1 ? '#d0d0d0' : '#f0f0f0'}"/>`);
    }
    out.push(`<text x="${L - 8}" y="${f(py(10 ** e) + 4)}" text-anchor="end" fill="#444">${esc(yFormat(10 ** e))}</text>`);
  }
  for (let e = x0; e <= x1; e++) {
    const x = px(10 ** e);
    out.push(`<line x1="${f(x)}" y1="${T}" x2="${f(x)}" y2="${H - B}" stroke="#d0d0d0"/>`);
    out.push(`<text x="${f(x)}" y="${H - B + 18}" text-anchor="middle" fill="#444">${esc(xFormat(10 ** e))}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 14}" text-anchor="middle" fill="#222">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" fill="#222">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const p = s.points.filter(([x, y]) => x > 0 && y > 0);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    if (p.length > 1) {
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${p.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ')}"/>`);
    }
    for (const [x, y] of p) out.push(`<circle cx="${f(px(x))}" cy="${f(py(y))}" r="3" fill="${s.color}"/>`);
    const ly0 = T + 8 + i * 20;
    out.push(`<line x1="${W - R + 16}" y1="${ly0}" x2="${W - R + 44}" y2="${ly0}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${W - R + 50}" y="${ly0 + 4}" fill="#222">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const sizeLabel = (n) => ({ 3: '1k', 4: '10k', 5: '100k', 6: '1M', 7: '10M', 8: '100M' })[Math.round(Math.log10(n))] ?? fmtN(n);
const rateLabel = (r) => {
  const e = Math.round(Math.log10(r));
  const unit = ['', 'k', 'M', 'G', 'T'][Math.floor(e / 3)] ?? `e${e}`;
  return `${10 ** (e % 3)} ${unit}/s`;
};

function seriesOf(row, id) {
  return Object.entries(row.sizes)
    .filter(([, c]) => c?.[id])
    .map(([n, c]) => [Number(n), Number(n) / (c[id].ms / 1000)]);
}

export function adamChart(results) {
  const adam = results.dense.find((r) => r.key === 'Adam');
  const series = [
    ['wasm-optim SIMD', 'simd', '#d62728'],
    ['wasm-optim SIMD, JS-heap gradient', 'simdJsGrad', '#ff7f0e'],
    ['wasm-optim scalar', 'scalar', '#8c564b'],
    ['plain JS loop', 'js', '#9467bd'],
    ['tf.train.adam, wasm backend', 'tfWasm', '#1f77b4'],
    ['tf.train.adam, cpu backend', 'tfCpu', '#17becf'],
    ['floor: stream, read 4 write 3', 'floorStream', '#555555', '6 4'],
    ['floor: memory.copy, same bytes', 'floorCopy', '#999999', '2 3'],
    ['floor: SIMD sqrt + div', 'floorArith', '#2ca02c', '6 4'],
  ].map(([name, id, color, dash]) => ({ name, color, dash, points: adam ? seriesOf(adam, id) : [] }));
  return lineChart({
    title: 'Adam step throughput (higher is better)',
    subtitle: `${results.meta.machine.cpu}, ${results.meta.machine.cores} cores, Node ${results.meta.machine.node}; median of ${results.meta.samples} samples`,
    series: series.filter((s) => s.points.length),
    xLabel: 'elements (parameters) per step',
    yLabel: 'elements per second',
    xFormat: sizeLabel,
    yFormat: rateLabel,
  });
}

export function optimizersChart(results) {
  const rows = results.dense.filter((r) => !r.skipped && Object.keys(r.sizes ?? {}).length);
  // Ten distinct colours, solid, then the same ten dashed.
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const series = rows.map((r, i) => ({
    name: r.label,
    color: palette[i % palette.length],
    dash: i >= palette.length ? '6 3' : undefined,
    points: seriesOf(r, 'simd'),
  }));
  return lineChart({
    title: 'Every optimizer, SIMD step throughput (higher is better)',
    subtitle: `wasm-optim, gradient read in place from wasm memory; ${results.meta.machine.cpu}, Node ${results.meta.machine.node}`,
    series,
    xLabel: 'elements (parameters) per step',
    yLabel: 'elements per second',
    xFormat: sizeLabel,
    yFormat: rateLabel,
  });
}

// ------------------------------------------------------------------ BENCHMARKS.md

export function markdown(results) {
  const { meta } = results;
  const m = meta.machine;
  const sizes = [...new Set(results.dense.flatMap((r) => Object.keys(r.sizes ?? {}).map(Number)))].sort((a, b) => a - b);
  const adam = results.dense.find((r) => r.key === 'Adam');
  const lines = [
    '# Benchmarks',
    '',
    `<!-- Generated by \`npm run bench\` (bench/run.mjs) on ${meta.date}. Do not edit by hand: re-run the benchmark. -->`,
    '',
    'Every figure below comes from one run of `npm run bench` on the machine described here. The run measures, in one',
    'Node process, each optimizer step through the public API, the physical floors of that step, the tfjs optimizers',
    'and a plain JavaScript loop, alternating the contenders sample by sample.',
    '',
    '![Adam step throughput](bench/chart.svg)',
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}, ${m.cores} cores (${m.memoryGiB} GiB RAM), ${m.platform}`,
    `- Node ${m.node} (V8 ${m.v8}), single thread (the kernels and the tfjs wasm backend in Node are single-threaded)`,
    `- Packages: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `- Load average at start: ${m.loadAverageAtStart.join(', ')}; the whole run took ${meta.seconds} s. The machine is a shared VM: treat differences under ~5% as noise.`,
    '',
    '## Targets',
    '',
    'Reported, not asserted (a benchmark on a shared machine is not a test).',
    '',
    ...table(['target', 'measured', 'met'], (results.targets ?? []).map((t) => [t.target, t.measured, t.met === null ? '(info)' : t.met ? 'yes' : '**no**']), ['l', 'l', 'l']),
    '',
    '## Method',
    '',
    `- **Timing.** \`performance.now()\`. Each contender is warmed up (3 calls), then its repetitions per sample are doubled until`,
    `  one sample takes at least ${meta.minSampleMs} ms. The contenders of a group then take turns, one sample each (the order rotates`,
    `  every round), ${meta.samples} times; each figure is the median time of one step. A group is one optimizer at one size: our SIMD`,
    '  and scalar kernels, its floors, its tf.train counterpart on both backends and (for Adam) the plain JS loop. After',
    "  each tfjs sample a full GC runs outside the timing, so tfjs's garbage is not collected during the next sample.",
    '- **Our optimizers** run through the public API, `opt.applyGradients([[gradient, variable]])`, on a variable of shape',
    '  `[n / 1000, 1000]` with default options. *SIMD* reads a gradient that already lives in wasm memory (a `Variable`\'s',
    '  `.value`) in place; *SIMD, JS grad* passes a JS-heap `Float32Array` that the library copies in; *scalar* is the same',
    '  call after `setSimdEnabled(false)`. Every optimizer class exported by the package is included; wrappers (which need',
    '  an inner optimizer) run around a plain `SGD`. `SGD (momentum 0.9)` is listed separately to face `tf.train.momentum`.',
    '- **Floors** run in `build/floors.wasm` (assembly/floors.ts), instantiated on the same wasm memory. An optimizer with',
    '  *k* full-size slots (counted from the memory it allocates) must read the weights, the gradient and its slots and',
    '  write the weights and its slots. Its *memory floor* is the faster of two ways to move those bytes: a SIMD stream that',
    '  reads 2+k and writes 1+k arrays of n floats with trivial arithmetic (read-4-write-3 for Adam), and one `memory.copy`',
    '  that reads and writes as many bytes within the same buffers. Its *arithmetic floor* is one f32x4 sqrt and one',
    '  division per element (`sqrt+div`: the Adam family, RMSprop, Adagrad, Adadelta, Ftrl, Lamb, Adafactor) or one division',
    '  (`div`: Adamax), over two streams; SGD, Lion and the wrappers around SGD have none. Its *floor* is the larger of the',
    '  two, measured in the same group, and *SIMD/floor* divides its SIMD step by it.',
    '- **tf.train.\\*** is `opt.applyGradients({name: gradient})` with a fixed gradient tensor, the same hyper-parameters,',
    '  tfjs 4.22 on the `cpu` and `wasm` backends (the wasm backend in Node uses its SIMD build, one thread). The backend is',
    '  switched outside the timed code; each backend keeps its own tensors. The cpu backend takes seconds per step at 1e7, so',
    `  it is measured up to ${fmtN(meta.tfCpuMax)} elements (${fmtN(meta.tfCpuMaxAdam)} for Adam).`,
    '- **Allocation.** Each probe runs in a fresh Node process (as a training loop does: one optimizer class, one hot loop).',
    '  After 5,000 warm-up steps, five windows of 10,000 steps on 1e4 elements: the JS heap growth',
    '  (`process.memoryUsage().heapUsed`) with no collection in between (a `PerformanceObserver` checks that no GC ran, so',
    '  the growth counts every byte allocated, garbage included) and after `global.gc()` (retained); the wasm memory size and',
    '  the arena\'s live bytes before and after. *Allocated* is the smallest window (a per-step allocation shows in every',
    '  window, background noise does not) minus the same figure for an empty loop (the measurement\'s own bytes); *retained*',
    '  is the largest window, floored at 0.',
    '',
    `## Every optimizer at 1e6 elements, next to its floors`,
    '',
    ...floorsAt(results.dense, 1e6),
    '',
    '*slots*: full-size buffers per variable. *floor* = max(memory floor, arithmetic floor), where the memory floor is the',
    'faster of the stream and memory.copy over the same bytes. *SIMD / floor* is the distance to the hardware; a ratio',
    'below 1 means the floor kernels do more work than that optimizer needs (its slots are not all read and written on',
    'every step, or its arithmetic is cheaper than the floor assumes).',
    '',
  ];
  if (adam) {
    lines.push('## Adam at every size', '', ...denseTable([adam], sizes), '', 'The chart at the top plots these figures as elements per second.', '');
  }
  lines.push(
    '## Every optimizer at every size',
    '',
    '![Every optimizer](bench/chart-optimizers.svg)',
    '',
    '<details><summary>Full table</summary>',
    '',
    ...denseTable(results.dense, sizes),
    '',
    '</details>',
    '',
  );
  const missing = results.dense.filter((r) => r.skipped || r.error);
  if (missing.length) {
    lines.push('Not measured:', '', ...missing.map((r) => `- ${r.label}: ${r.skipped ?? r.error}`), '');
  }
  if (results.sparse?.error) lines.push('## Sparse gradients', '', `Not measured: ${results.sparse.error}`, '');
  else if (results.sparse) {
    lines.push(
      '## Sparse gradients: an embedding table',
      '',
      ...sparseTable(results.sparse),
      '',
      'The sparse path is `applyGradients([[{ indices, values }, table]])` with the 1,000 gathered rows (JS-heap arrays, copied',
      'in and de-duplicated by the library); the dense path is the same optimizer given the equivalent dense gradient in wasm',
      'memory. Adam follows Keras: its moments decay on every row, so its sparse gradient is densified and costs a dense step.',
      'LazyAdam updates only the gathered rows; SGD without momentum and Adagrad scatter into the touched rows. tf.train.adam',
      'is given the dense gradient that tfjs produces for a gather.',
      '',
    );
  }
  if (results.allocation) lines.push('## Steady-state allocation', '', ...allocationTable(results.allocation), '');
  if (results.kernel) lines.push('## kernel(): custom updates compiled at run time', '', ...kernelTable(results.kernel).slice(2), '');
  if (results.muon) lines.push("## Muon: Newton-Schulz against tfjs' matMul", '', ...muonTable(results.muon), '');
  if (results.int8) lines.push('## 8-bit optimizer state', '', ...int8Table(results.int8), '');
  if (results.pipeline) {
    lines.push(
      '## The fine-tuning recipe in one pass',
      '',
      ...pipelineTable(results.pipeline),
      '',
      'Every configuration raced side by side with plain Adam, gradients in wasm memory. Goal: Adam\'s time scaled by the bytes',
      'the configuration cannot avoid moving per element (Adam 7 floats; a global reduction re-reads g: 8; the EMA reads and',
      'writes the average: +2), with 10% slack (docs/pipeline.md).',
      '',
    );
  }
  if (results.fit) {
    lines.push('## model.fit end to end', '', ...fitTable(results.fit), '');
    if (results.fit.status === 'ok') {
      lines.push(
        'Median wall time of `model.fit(x, y, { epochs: 1 })`: forward and backward passes (the same in both columns) plus the',
        'optimizer. Both models start from the same weights and see the same batches; ours is `adam()` from `wasm-optim/tfjs`.',
        'The last loss is a sanity check that both train alike (they drift apart slowly: ours places epsilon as Keras does,',
        'tf.train.adam as tfjs does).',
        '',
      );
    }
  }
  lines.push(
    '## Reproduce',
    '',
    '```sh',
    'npm run build',
    'npm run bench            # full run: writes bench/results.json, bench/chart*.svg and this file',
    'npm run bench -- --quick # 1e3..1e6, fewer samples (under 2 minutes); writes bench/results-quick.json only',
    '```',
    '',
    'Options: `--only=Adam,SGD` (dense section), `--sections=dense,sparse,alloc,fit,muon,kernel,int8,pipeline`, `--no-write`.',
    '',
  );
  return lines.join('\n');
}
