// Float64 model of the 8-bit optimizer state (docs/int8-state.md), written from the format's
// definition rather than from the kernel's bit tricks: blocks of 256 elements (never straddling a
// row), absmax a = max |x| in the block, y = fl32(|x| * fl32(1 / a)), and y rounded to 3 mantissa
// bits (ties away from zero) in binades 2^-15..1 (signed) or 2^-31..1 (unsigned); a step's slow
// EMAs round stochastically instead: up with probability equal to the fraction of the step below
// y, against a draw: the top 20 bits of (index ^ seed) * 0x9e3779b1 (mod 2^32).
// The float32 roundings the format itself specifies (1/a, |x|/a, code * a) use Math.fround.
export const QBLOCK = 256;
const KINDS = {
  signed: { binades: 15, max: 121 },
  unsigned: { binades: 31, max: 249 },
};
const MIN_NORMAL = 2 ** -126;

function exponent(y) {
  let e = Math.floor(Math.log2(y));
  while (2 ** e > y) e--;
  while (2 ** (e + 1) <= y) e++;
  return e;
}

/** The 20-bit draw of element `index` under `seed`: the top bits of (index ^ seed) * 0x9e3779b1 mod 2^32. */
export function draw(index, seed) {
  return Math.imul((index ^ seed) >>> 0, 0x9e3779b1) >>> 12;
}

/** The seed of update `step` (1-based), as the optimizers pass it. */
export const roundingSeed = (step) => Math.imul(step, 0x632be5ab) & 0x3fffffff;

/**
 * The magnitude code of y = |x| / a (a float32 in [0, 1] or a little above, or NaN): to nearest,
 * or with `u` (a draw in [0, 2^20)) rounding up when the fraction below y, in 2^-20 of the step,
 * is at least 2^20 - u.
 */
export function codeOf(y, kind, u = -1) {
  const { binades, max } = KINDS[kind];
  if (Number.isNaN(y) || y === Infinity) return max;
  if (y === 0) return 0;
  const e = exponent(y);
  const frac = (y / 2 ** e - 1) * 8; // the position within the binade, in steps
  const steps = u < 0 ? Math.floor(frac + 0.5) : Math.floor(frac) + (Math.round((frac - Math.floor(frac)) * 2 ** 20) + u >= 2 ** 20 ? 1 : 0);
  return Math.min(Math.max(1 + 8 * (e + binades) + steps, 0), max);
}

/** The value of magnitude code k as a fraction of the block's absmax. */
export function valueOf(k, kind) {
  if (k === 0) return 0;
  const { binades } = KINDS[kind];
  return 2 ** (Math.floor((k - 1) / 8) - binades) * (1 + ((k - 1) % 8) / 8);
}

/**
 * Quantizes one block of float32 values: { absmax, codes }. `rounding` { seed, base } makes the
 * rounding stochastic (element i draws with index base + i).
 */
export function quantizeBlock(x, kind, rounding = null) {
  let a = 0;
  for (const v of x) a = Number.isNaN(a) || Number.isNaN(v) ? NaN : Math.max(a, Math.abs(v));
  const codes = new Uint8Array(x.length);
  if (!(a >= MIN_NORMAL) && !Number.isNaN(a)) return { absmax: 0, codes };
  const r = Math.fround(1 / a);
  for (let i = 0; i < x.length; i++) {
    const ax = Math.abs(x[i]);
    const u = rounding ? draw(rounding.base + i, rounding.seed) : -1;
    let k = codeOf(Math.fround(ax * r), kind, u);
    if (kind === 'unsigned' && Math.fround(ax * r) > 0 && k === 0) k = 1; // a non-zero y never becomes zero
    codes[i] = kind === 'signed' && k > 0 && (x[i] < 0 || Object.is(x[i], -0)) ? k | 0x80 : k;
  }
  return { absmax: Math.fround(a), codes };
}

/** Dequantizes one block (float32 results). */
export function dequantizeBlock(codes, absmax, kind) {
  const out = new Float64Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    const k = kind === 'signed' ? c & 0x7f : c;
    const v = Math.fround(valueOf(k, kind) * absmax);
    out[i] = kind === 'signed' && c & 0x80 && k !== 0 ? -v : v;
  }
  return out;
}

/** The blocks of n elements in rows of rowSize: [start, length] in order (absmax index = position). */
export function blocks(n, rowSize) {
  const out = [];
  for (let s = 0; s < n; s += rowSize) for (let b = 0; b < rowSize; b += QBLOCK) out.push([s + b, Math.min(QBLOCK, rowSize - b)]);
  return out;
}

/** A whole slot: { codes, absmax } of n float32 values (`seed`: a step's stochastic rounding). */
export function quantize(x, kind, rowSize = x.length, seed = null) {
  const bl = blocks(x.length, rowSize);
  const codes = new Uint8Array(x.length);
  const absmax = new Float32Array(bl.length);
  bl.forEach(([s, len], i) => {
    const q = quantizeBlock(Array.from(x.subarray ? x.subarray(s, s + len) : x.slice(s, s + len)), kind, seed === null ? null : { seed, base: s });
    codes.set(q.codes, s);
    absmax[i] = q.absmax;
  });
  return { kind, rowSize, codes, absmax };
}

/** The float32 values of a slot { kind, rowSize, codes, absmax }. */
export function dequantize(q) {
  const out = new Float64Array(q.codes.length);
  blocks(q.codes.length, q.rowSize).forEach(([s, len], i) => out.set(dequantizeBlock(q.codes.subarray(s, s + len), q.absmax[i], q.kind), s));
  return out;
}

/**
 * One Adam step with 8-bit m and v, in float64 between the quantization points: dequantize m and v,
 * Adam's update (test/reference/adam.mjs's formula), quantize the float32-rounded new moments.
 * `rows` (LazyAdam) limits the step to those rows, with g holding one row per entry.
 */
export function adamInt8Step(w, g, mq, vq, lr, t, o, rows = null) {
  const alpha = (lr * Math.sqrt(1 - o.beta2 ** t)) / (1 - o.beta1 ** t);
  const m = dequantize(mq);
  const v = dequantize(vq);
  const rowSize = mq.rowSize;
  const touched = rows ?? Array.from({ length: w.length / rowSize }, (_, r) => r);
  const gOf = (r, j) => (rows ? g[rows.indexOf(r) * rowSize + j] : g[r * rowSize + j]);
  for (const r of touched) {
    for (let j = 0; j < rowSize; j++) {
      const i = r * rowSize + j;
      const gi = gOf(r, j);
      m[i] += (gi - m[i]) * (1 - o.beta1);
      v[i] += (gi * gi - v[i]) * (1 - o.beta2);
      w[i] -= (m[i] * alpha) / (Math.sqrt(v[i]) + o.epsilon);
    }
  }
  const m32 = Float32Array.from(m);
  const v32 = Float32Array.from(v);
  const mNew = quantize(m32, 'signed', rowSize);
  const vNew = quantize(v32, 'unsigned', rowSize, roundingSeed(t));
  return { m: mNew, v: vNew, mFloat: m, vFloat: v };
}

/**
 * Which codes the float math determines: an element whose value, moved by a relative `tol`, still
 * gets the same code given the same absmax (others sit on a rounding boundary, where float32 and
 * float64 arithmetic may legitimately round differently).
 */
export function stableCodes(x, q, seed = null, tol = 1e-5) {
  const stable = new Uint8Array(x.length);
  blocks(x.length, q.rowSize).forEach(([s, len], bi) => {
    const a = q.absmax[bi];
    const r = Math.fround(1 / a);
    for (let i = s; i < s + len; i++) {
      if (!(a >= MIN_NORMAL)) {
        stable[i] = 1;
        continue;
      }
      const u = seed !== null ? draw(i, seed) : -1;
      const c = (y) => codeOf(Math.fround(Math.abs(y) * r), q.kind, u);
      stable[i] = c(x[i] * (1 - tol)) === c(x[i] * (1 + tol)) && c(x[i]) === c(x[i] * (1 + tol)) ? 1 : 0;
    }
  });
  return stable;
}

/**
 * One step of an optimizer whose slots are 8-bit, from its float64 reference (`ref`, one of
 * test/reference/*.mjs): dequantize each slot (`slots`: name -> quantized state), run the
 * reference's update, quantize the float32-rounded new values; the slots named in `stochastic`
 * round stochastically with roundingSeed(t). Returns the new quantized slots and their float64
 * values (for stableCodes).
 */
export function int8Step(ref, o, w, g, slots, lr, t, stochastic = []) {
  const s = Object.fromEntries(Object.entries(slots).map(([k, q]) => [k, dequantize(q)]));
  ref.update(g, w, s, lr, t, o);
  const out = {};
  for (const [k, q] of Object.entries(slots)) out[k] = quantize(Float32Array.from(s[k]), q.kind, q.rowSize, stochastic.includes(k) ? roundingSeed(t) : null);
  return { slots: out, floats: s };
}
