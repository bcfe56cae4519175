// Timing core: every contender is warmed up, its repetitions per sample are calibrated by
// doubling, then the contenders take turns sample by sample (so drift and noise from the shared
// machine hit them all alike) and each one's figure is the median of its samples.

/**
 * @typedef {object} Contender
 * @property {string} id
 * @property {(reps: number) => (void | Promise<void>)} run  runs `reps` steps; the only timed code
 *   (asynchronous only for model.fit, whose promise is awaited inside the timing)
 * @property {() => (void | Promise<void>)} [before]  untimed, before each warm-up, calibration and sample
 *   (backend switch, SIMD toggle, re-deriving views)
 * @property {boolean} [garbage]  leaves garbage (tfjs): collect it after each of its samples, untimed,
 *   so the collector's threads do not run into the next contender's sample
 */

/**
 * @param {Contender[]} contenders
 * @param {{ samples: number, minMs: number, warmup?: number }} opts
 * @returns {Promise<Map<string, Stats>>}
 */
export async function race(contenders, { samples, minMs, warmup = 3 }) {
  const reps = new Map();
  for (const c of contenders) {
    // Warm-up: `warmup` calls, or fewer (at least one) when calls are long (tf cpu at 1e7, model.fit).
    let spent = 0;
    for (let i = 0; i < warmup && (i === 0 || spent < Math.max(4 * minMs, 1000)); i++) {
      await c.before?.();
      const t0 = performance.now();
      await c.run(1);
      spent += performance.now() - t0;
    }
    let r = 1;
    while (minMs > 0) {
      await c.before?.();
      const t0 = performance.now();
      await c.run(r);
      const dt = performance.now() - t0;
      if (dt >= minMs || r >= 1 << 24) break;
      // Jump close to the target when the sample is far too short, then keep doubling.
      r = dt < minMs / 16 && dt > 0 ? r * 8 : r * 2;
    }
    reps.set(c.id, r);
  }
  const times = new Map(contenders.map((c) => [c.id, []]));
  const k = contenders.length;
  for (let s = 0; s < samples; s++) {
    // Rotate the order every round so no contender always follows the same one.
    for (let j = 0; j < k; j++) {
      const c = contenders[(s + j) % k];
      const r = reps.get(c.id);
      await c.before?.();
      const t0 = performance.now();
      await c.run(r);
      times.get(c.id).push((performance.now() - t0) / r);
      if (c.garbage) await collect();
    }
  }
  const out = new Map();
  for (const c of contenders) out.set(c.id, stats(times.get(c.id), reps.get(c.id)));
  return out;
}

/** A full collection (node --expose-gc), then a moment for the sweeper threads to finish. */
async function collect() {
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * @typedef {{ ms: number, min: number, q1: number, q3: number, samples: number, reps: number }} Stats
 * ms is the median time of one step.
 */
export function stats(xs, reps) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => {
    const i = (s.length - 1) * p;
    const lo = Math.floor(i);
    return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
  };
  return { ms: q(0.5), min: s[0], q1: q(0.25), q3: q(0.75), samples: s.length, reps };
}
