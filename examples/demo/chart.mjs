// Loss curves as a self-contained SVG (log-scale loss against steps). The terminal demo writes it
// to a file; the browser demo re-renders it live into the page.

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** 1, 2, 5 x 10^k ticks covering [lo, hi] (log axis). */
function logTicks(lo, hi) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
    }
  }
  return ticks;
}

const fmt = (t) => String(Number(t.toPrecision(1)));

/**
 * series: [{ name, color, points: [[step, loss], ...], dashed?, dotted? }]
 * (dotted: a curve meant to lie on another one, drawn thin and on top so both stay visible)
 * options: { title, subtitle, width, height, maxStep, lr }
 * lr: { name, color, points: [[step, learningRate], ...] }, drawn in a small linear panel under the
 * loss panel on the same step axis (as a <path>, so the loss curves stay the only polylines).
 */
export function lossChartSvg(series, { title = 'Training loss', subtitle = '', width = 760, height = 420, maxStep, lr } = {}) {
  const left = 58;
  const right = 60 + 7 * Math.max(8, ...series.map((s) => s.name.length));
  const top = subtitle ? 52 : 36;
  const bottom = 42;
  const lrH = lr ? 110 : 0; // the learning-rate panel and its gap
  if (lr) height += lrH;
  const plotW = width - left - right;
  const plotH = height - top - bottom - lrH;
  const all = series.flatMap((s) => s.points).filter(([, y]) => y > 0 && Number.isFinite(y));
  const xMax = maxStep ?? Math.max(1, ...all.map(([x]) => x));
  let yLo = Math.min(...all.map(([, y]) => y));
  let yHi = Math.max(...all.map(([, y]) => y));
  if (!all.length) [yLo, yHi] = [0.01, 1];
  // Pad to whole 1-2-5 steps so the curves never touch the frame.
  yLo = 10 ** (Math.floor(Math.log10(yLo) * 2) / 2);
  yHi = 10 ** (Math.ceil(Math.log10(yHi) * 2) / 2);
  const X = (x) => left + (x / xMax) * plotW;
  const Y = (y) => top + ((Math.log10(yHi) - Math.log10(y)) / (Math.log10(yHi) - Math.log10(yLo))) * plotH;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="600" fill="#111">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="${left}" y="40" fill="#555">${esc(subtitle)}</text>`);
  // Grid and axes.
  for (const t of logTicks(yLo, yHi)) {
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end" fill="#555">${fmt(t)}</text>`);
  }
  // About six step ticks at 1-2-5 multiples.
  const p = 10 ** Math.floor(Math.log10(xMax / 6));
  const stepTick = Math.max(1, [1, 2, 5, 10].map((m) => m * p).find((s) => s >= xMax / 6));
  for (let x = 0; x <= xMax; x += stepTick) {
    out.push(`<line x1="${X(x).toFixed(1)}" x2="${X(x).toFixed(1)}" y1="${top}" y2="${top + plotH}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${X(x).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${Math.round(x)}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle" fill="#333">step</text>`);
  if (lr) out.push(lrPanel(lr, { x0: left, y0: top + plotH + 30, w: plotW, h: lrH - 36, X }));
  out.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">loss (log scale)</text>`);
  // Curves (dashed ones, then dotted ones last, on top, so a curve they coincide with still shows), then the legend.
  const layer = (s) => (s.dotted ? 2 : s.dashed ? 1 : 0);
  const order = series.map((s, k) => k).sort((a, b) => layer(series[a]) - layer(series[b]));
  for (const k of order) {
    const s = series[k];
    const pts = s.points.filter(([, y]) => y > 0 && Number.isFinite(y)).map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
    if (pts.length > 1) {
      out.push(`<polyline data-series="${esc(s.name)}" fill="none" stroke="${s.color}" stroke-width="${s.dashed ? 2.2 : 1.8}"${dash(s)} stroke-linejoin="round" points="${pts.join(' ')}"/>`);
    }
  }
  series.forEach((s, k) => {
    const ly = top + 10 + k * 20;
    const lx = left + plotW + 14;
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${dash(s)}/>`);
    out.push(`<text x="${lx + 28}" y="${ly + 4}" fill="#222">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

const dash = (s) => (s.dotted ? ' stroke-dasharray="2 3"' : s.dashed ? ' stroke-dasharray="6 4"' : '');

// The learning rate of one run against steps, linear from 0 to its peak.
function lrPanel({ name, color, points }, { x0, y0, w, h, X }) {
  const peak = Math.max(...points.map(([, y]) => y)) || 1;
  const Y = (y) => y0 + h - (y / peak) * h;
  const d = points.map(([x, y], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
  return [
    `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
    `<text x="${x0 - 6}" y="${y0 + 4}" text-anchor="end" fill="#555">${Number(peak.toPrecision(2))}</text>`,
    `<text x="${x0 - 6}" y="${y0 + h + 4}" text-anchor="end" fill="#555">0</text>`,
    `<path data-lr="${esc(name)}" d="${d}" fill="none" stroke="${color}" stroke-width="1.8"/>`,
    `<text x="${x0 + 6}" y="${y0 + 14}" fill="#222">learning rate: ${esc(name)}</text>`,
  ].join('\n');
}

/** Distinct colours for up to 8 series; the tf.train baseline uses the first (drawn dashed). */
export const COLORS = ['#222222', '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
