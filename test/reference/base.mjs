// Float64 reference of the Keras 3 base-class pipeline, written from the published formulas
// (keras-semantics.md): accumulation -> loss scale -> clipping -> weight decay -> update -> EMA.
// An optimizer reference (`spec`) supplies only its per-variable update; this file is the only
// second copy of the math besides the kernels, and it never touches wasm.

/**
 * spec = {
 *   defaults: { learningRate, ... },            // Keras defaults of the optimizer's own options
 *   slots(o, shape) -> { name: initialValue },  // slot names and fill values
 *   globals?(o) -> { name: value },             // optimizer-level scalars (Nadam's u_product)
 *   beforeUpdates?(o, globals, t),              // once per real update, before the per-variable updates
 *   update(g, w, s, lr, t, o, globals, shape, v),  // in place on Float64Arrays
 *   afterUpdates?(o, globals, t, lr, liveVars, ref),  // once per real update, after them (a second pass)
 *   initSlots?(slots, values),                  // when a variable's slots are made, before its first step
 *   ownsWeightDecay?: true,                     // the update applies weightDecay itself (optax's place)
 * }
 */
export class RefOptimizer {
  constructor(spec, options = {}) {
    this.spec = spec;
    this.o = {
      weightDecay: null, clipnorm: null, clipvalue: null, globalClipnorm: null, useEma: false, emaMomentum: 0.99,
      emaOverwriteFrequency: null, lossScaleFactor: null, gradientAccumulationSteps: null,
      ...spec.defaults, ...options,
    };
    this.rawIt = 0;
    this.vars = new Map(); // ref var object -> { slots, acc, avg }
    this.globals = spec.globals ? spec.globals(this.o) : {};
  }

  get iterations() {
    const N = this.o.gradientAccumulationSteps;
    return N ? Math.floor(this.rawIt / N) : this.rawIt;
  }

  lr() {
    const lr = this.o.learningRate;
    return typeof lr === 'number' ? lr : lr(this.rawIt);
  }

  state(v) {
    let st = this.vars.get(v);
    if (!st) {
      const slots = {};
      for (const [name, init] of Object.entries(this.spec.slots(this.o, v.shape))) {
        slots[name] = new Float64Array(v.values.length).fill(init);
      }
      this.spec.initSlots?.(slots, v.values); // slots that start as a copy of the variable (schedule-free's z)
      st = { slots, acc: new Float64Array(v.values.length), avg: new Float64Array(v.values.length) };
      this.vars.set(v, st);
    }
    return st;
  }

  /** pairs: [gradient (Float64Array | {indices, values} | null), v = { values: Float64Array, shape, name }] */
  apply(pairs) {
    const o = this.o;
    const lr = this.lr();
    let live = pairs.filter(([g]) => g != null).map(([g, v]) => [densify(g, v), v]);
    for (const [, v] of pairs) this.state(v);
    if (o.lossScaleFactor) live = live.map(([g, v]) => [g.map((x) => x / o.lossScaleFactor), v]);
    const N = o.gradientAccumulationSteps;
    if (N) {
      const isUpdate = (this.rawIt + 1) % N === 0;
      if (!isUpdate) {
        for (const [g, v] of live) add(this.state(v).acc, g);
        return this.finish();
      }
      live = live.map(([g, v]) => [g.map((x, i) => (x + this.state(v).acc[i]) / N), v]);
    }
    if (o.clipvalue) live = live.map(([g, v]) => [g.map((x) => Math.min(Math.max(x, -o.clipvalue), o.clipvalue)), v]);
    if (o.clipnorm) {
      live = live.map(([g, v]) => {
        const n = norm(g);
        return [g.map((x) => (x * o.clipnorm) / Math.max(n, o.clipnorm)), v];
      });
    }
    if (o.globalClipnorm) {
      const n = Math.sqrt(live.reduce((s, [g]) => s + g.reduce((a, x) => a + x * x, 0), 0));
      live = live.map(([g, v]) => [g.map((x) => (x * o.globalClipnorm) / Math.max(n, o.globalClipnorm)), v]);
    }
    // A spec that ownsWeightDecay applies it inside its update (optax's place), not here.
    if (!this.spec.ownsWeightDecay && o.weightDecay !== null && o.weightDecay !== undefined) {
      for (const [, v] of live) {
        if (!v.noDecay) for (let i = 0; i < v.values.length; i++) v.values[i] -= v.values[i] * o.weightDecay * lr;
      }
    }
    const t = this.iterations + 1;
    this.spec.beforeUpdates?.(o, this.globals, t);
    for (const [g, v] of live) this.spec.update(g, v.values, this.state(v).slots, lr, t, o, this.globals, v.shape, v);
    this.spec.afterUpdates?.(o, this.globals, t, lr, live.map(([, v]) => v), this);
    if (N) for (const st of this.vars.values()) st.acc.fill(0);
    return this.finish();
  }

  finish() {
    const o = this.o;
    if (o.useEma) {
      const it = this.iterations;
      const m = it !== 0 ? o.emaMomentum : 0;
      const overwrite = o.emaOverwriteFrequency && (it + 1) % o.emaOverwriteFrequency === 0;
      for (const [v, st] of this.vars) {
        for (let i = 0; i < v.values.length; i++) st.avg[i] = m * st.avg[i] + (1 - m) * v.values[i];
        if (overwrite) v.values.set(st.avg);
      }
    }
    this.rawIt++;
    return this.iterations;
  }
}

export function densify(g, v) {
  if (ArrayBuffer.isView(g)) return Float64Array.from(g);
  const out = new Float64Array(v.values.length);
  const row = v.values.length / v.shape[0];
  Array.from(g.indices).forEach((r, k) => {
    for (let j = 0; j < row; j++) out[r * row + j] += g.values[k * row + j];
  });
  return out;
}

const add = (a, b) => b.forEach((x, i) => (a[i] += x));
const norm = (g) => Math.sqrt(g.reduce((a, x) => a + x * x, 0));
