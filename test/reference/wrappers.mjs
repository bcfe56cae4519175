// Float64 references of the wrappers, around a RefOptimizer (base.mjs) as the inner optimizer.
// Both act after each real update of the inner one (micro-steps of gradient accumulation do not
// count) and cover every variable seen so far (the paper's form; TFA only covers those with a
// gradient in that step). `step` below is the inner optimizer's iterations after the update.

/**
 * Lookahead: slow weights start as the weights before their first update; when step % syncPeriod
 * is 0, slow += slowStepSize * (w - slow) and w = slow.
 */
export class RefLookahead {
  constructor(inner, { syncPeriod = 6, slowStepSize = 0.5 } = {}) {
    Object.assign(this, { inner, syncPeriod, slowStepSize });
    this.slow = new Map(); // ref variable -> Float64Array
  }

  get iterations() {
    return this.inner.iterations;
  }

  apply(pairs) {
    for (const [g, v] of pairs) if (g != null && !this.slow.has(v)) this.slow.set(v, Float64Array.from(v.values));
    const before = this.inner.iterations;
    this.inner.apply(pairs);
    const step = this.inner.iterations;
    if (step === before || step % this.syncPeriod !== 0) return;
    for (const [v, slow] of this.slow) {
      for (let i = 0; i < slow.length; i++) v.values[i] = slow[i] += this.slowStepSize * (v.values[i] - slow[i]);
    }
  }
}

/**
 * SWA: the update with 0-based number it = step - 1 is a snapshot when it >= startStep and
 * (it - startStep) % averagePeriod == 0; then avg = (avg * n + w) / (n + 1), n = (it - startStep) / averagePeriod.
 * An average starts as a copy of its variable.
 */
export class RefSWA {
  constructor(inner, { startStep = 0, averagePeriod = 10 } = {}) {
    Object.assign(this, { inner, startStep, averagePeriod });
    this.avg = new Map();
  }

  get iterations() {
    return this.inner.iterations;
  }

  apply(pairs) {
    for (const [g, v] of pairs) if (g != null && !this.avg.has(v)) this.avg.set(v, Float64Array.from(v.values));
    const before = this.inner.iterations;
    this.inner.apply(pairs);
    const it = this.inner.iterations - 1;
    if (it + 1 === before || it < this.startStep || (it - this.startStep) % this.averagePeriod !== 0) return;
    const n = (it - this.startStep) / this.averagePeriod;
    for (const [v, avg] of this.avg) for (let i = 0; i < avg.length; i++) avg[i] = (avg[i] * n + v.values[i]) / (n + 1);
  }
}
