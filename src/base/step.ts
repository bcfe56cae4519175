// The step pipeline, in Keras 3's order. A step is atomic: every input is checked and every buffer
// allocated before the first write, so that a failure changes nothing.
//   hyperparameters  schedules evaluated (user code runs before any input is read)
//   collect          pairs validated, gradients read once
//   stage            buffers reserved in the journal, raw gradients put in wasm memory
//   (skipNonFinite)  a non-finite step is counted and skipped here, having built nothing
//   registration     new variables registered and built, then staged
//   step hooks       wrappers' and MultiOptimizer's work that must roll back with the step
//   --- first write ---
//   accumulate or unscale -> clip -> weight decay -> beforeUpdateSteps -> updateStep per variable
//   -> afterUpdateSteps -> EMA -> counter
//   (an optimizer that takes the fused pipeline does unscale, clip, decay and EMA in its kernel)
// Internal.
import { accumulate, aliasesStep, clipGradients, gradientView, inputFinite, prepareGradient, stage, stagedFinite, StepInput, type VarRecord } from '../gradients.js';
import { isSparse, type SparseScratch } from '../sparse.js';
import { isFloat32Array, typedBuffer, typedByteOffset, typedLength } from '../typed.js';
import { Variable } from '../variable.js';
import { type Core, resolveHyperparameters } from './core.js';
import { PIPE_CLAMP, PIPE_DECAY, PIPE_DIV, PIPE_EMA, PIPE_MUL, PIPE_MUL2, REC_C, REC_D, REC_DELTA, REC_FLAGS, REC_K, REC_M, REC_OM, REC_S, REC_S2 } from './pipeline.js';
import { checkVariable, registerNew, unregister } from './registration.js';
import { type GradientVariablePair } from './types.js';

/** See Optimizer.applyGradients (the caller has checked that the optimizer is alive and idle). */
export function applyGradients(c: Core, pairs: readonly GradientVariablePair[]): number {
  c.busy = 'applyGradients';
  try {
    resolveHyperparameters(c);
    const n = collect(c, pairs);
    c.overridable.releaseDisposed();
    const fresh = c.all.length;
    const own = c.own.length;
    try {
      // Known variables first: a step skipped for non-finite gradients must build nothing.
      stageAll(c, n, false);
      if (c.host.skipNonFinite && !allFinite(c, n)) {
        c.journal.commit();
        c.skips++;
        return c.host.iterations;
      }
      if (registerNew(c, n)) stageAll(c, n, true); // the steady state has no new variable
      runStepHooks(c.host);
    } catch (e) {
      c.journal.rollback();
      unregister(c, fresh, own);
      throw e;
    }
    c.journal.commit();
    return update(c, n);
  } finally {
    releaseInputs(c);
    c.busy = null;
  }
}

/** Throws exactly as applyGradients would for these pairs, and changes nothing. */
export function validateGradients(c: Core, pairs: readonly GradientVariablePair[]): void {
  try {
    collect(c, pairs);
  } finally {
    releaseInputs(c);
  }
}

/** Drops every reference to the caller's arrays (a refused step may have read some). */
function releaseInputs(c: Core): void {
  for (let i = 0; i < c.inputs.length; i++) c.inputs[i].release();
}

/**
 * Validates every pair (throws before anything is allocated or written) and fills the
 * active-step arrays. Each gradient is read once: its engine-held length, buffer and offset (a
 * subclass cannot lie about them) and, for a sparse one, a private copy of its indices.
 */
function collect(c: Core, pairs: readonly GradientVariablePair[]): number {
  // Messages are built only when throwing: a step must not allocate strings.
  if (!Array.isArray(pairs)) throw new TypeError(`${c.where()}: expected an array of [gradient, variable] pairs`);
  let n = 0;
  const count = pairs.length;
  for (let i = 0; i < count; i++) {
    const pair: unknown = pairs[i];
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new TypeError(`${c.where()}: pairs[${i}] must be a [gradient, variable] pair`);
    }
    const g: unknown = pair[0];
    const v: unknown = pair[1];
    if (!(v instanceof Variable) || v.disposed || (c.heap !== null && v.heap !== c.heap)) {
      checkVariable(c, v, `${c.where()}: pairs[${i}][1]`);
    }
    for (let j = 0; j < i; j++) {
      if (c.pairVars[j] === v) throw new Error(`${c.where()}: variable '${v.name}' appears twice (pairs[${j}] and pairs[${i}])`);
    }
    c.pairVars[i] = v;
    if (g === null || g === undefined) continue;
    const input = (c.inputs[n] ??= new StepInput());
    if (isFloat32Array(g)) {
      const len = typedLength(g);
      if (len !== v.size) {
        throw new RangeError(`${c.where()}: the gradient for '${v.name}' has ${len} values, expected ${v.size} (shape ${JSON.stringify(v.shape)})`);
      }
      input.sparse = false;
      // Where a wasm-resident gradient lies now: an allocation later in the step may grow the
      // memory and detach the caller's view.
      const inWasm = typedBuffer(g) === v.heap.memory.buffer;
      input.ptr = inWasm ? typedByteOffset(g) : -1;
      input.dense = inWasm ? null : g;
    } else if (isSparse(g)) {
      input.rows.read(g, v, c.where());
      input.sparse = true;
    } else {
      throw new TypeError(`${c.where()}: the gradient for '${v.name}' must be a Float32Array, a { indices, values } sparse gradient or null`);
    }
    c.activeVars[n] = v;
    n++;
  }
  if (n === 0) throw new Error(`${c.where()}: no gradients provided for any variable`);
  if (c.heap !== null || n === 1) return n;
  const heap = c.activeVars[0].heap;
  for (let i = 1; i < n; i++) {
    if (c.activeVars[i].heap !== heap) throw new Error(`${c.where()}: variable '${c.activeVars[i].name}' lives in another heap than '${c.activeVars[0].name}'`);
  }
  return n;
}

/**
 * Allocates every buffer the step needs for the known variables (`fresh` false) or the ones just
 * built (`fresh` true), and puts each raw gradient in wasm memory. Writes only new or private
 * memory: the caller undoes it (journal rollback, unregister) if anything throws.
 */
function stageAll(c: Core, n: number, fresh: boolean): void {
  if (!fresh) {
    for (let i = 0; i < n; i++) {
      c.active[i] = c.records.get(c.activeVars[i]) as VarRecord; // undefined: built after the check
      c.isNew[i] = c.active[i] === undefined;
    }
  }
  const h = c.host;
  const N = h.gradientAccumulationSteps;
  const unscale = h.lossScaleFactor !== null || c.divisor[0] !== 1;
  const transform = !N && (unscale || h.clipnorm !== null || h.clipvalue !== null || h.globalClipnorm !== null);
  // A fused update reads the raw gradient unless a norm must first be taken of the unscaled one.
  const transformFused = !N && unscale && (h.clipnorm !== null || h.globalClipnorm !== null);
  // A hook (build) may have disposed a variable of this step: nothing is written yet.
  for (let i = 0; i < n; i++) {
    const v = c.activeVars[i];
    if (v.disposed) throw new Error(`${c.where()}: variable '${v.name}' was disposed during the step (by a build() hook)`);
  }
  c.aliases.refresh(c.generation, c.all);
  for (let i = 0; i < n; i++) {
    const rec = c.active[i];
    if (c.isNew[i] !== fresh) continue;
    const g = c.inputs[i];
    if (g.sparse) {
      c.journal.sparseOf(rec, g.rows.count);
      if (!N && c.overridable.sparseNeedsDenseBuffer(rec.variable)) c.journal.gradOf(rec);
      stage(rec, g, false);
    } else {
      const copy = g.ptr < 0 || aliasesStep(g.ptr, rec.variable.size, c.aliases, c.active, c.activeVars, n);
      if (copy || (fusable(c, rec) ? transformFused : transform)) c.journal.gradOf(rec);
      stage(rec, g, copy);
    }
  }
}

/** Finiteness of every gradient: staged ones by the SIMD kernel, a new variable's where it is. */
function allFinite(c: Core, n: number): boolean {
  for (let i = 0; i < n; i++) {
    const rec = c.active[i];
    if (rec === undefined ? !inputFinite(c.inputs[i], c.activeVars[i]) : !stagedFinite(rec)) return false;
  }
  return true;
}

/** Whether `rec`'s dense update may take the fused pipeline (./pipeline.ts). */
function fusable(c: Core, rec: VarRecord): boolean {
  return c.fuses && rec.variable.heap.pipeline !== undefined;
}

/**
 * The writes, in Keras' order: accumulate or unscale, clip, decay, update, EMA, counter. For a
 * fused variable (a dense update of an optimizer that takes the pipeline) unscaling, clipping,
 * decay and EMA are not passes of their own: they are written into its pipeline record and its
 * kernel applies them as it streams, the same operations in the same order (the same bits).
 */
function update(c: Core, n: number): number {
  const h = c.host;
  const lr = c.lrStep as number;
  const N = h.gradientAccumulationSteps;
  const inv = h.lossScaleFactor ? 1 / h.lossScaleFactor : 1;
  const div = c.divisor[0];
  // 1 / div when it is a float32 (div a power of two, as a dynamic loss scale is unless its
  // initial scale was not): g * (1 / div) and g / div are then the same real number, so they round
  // to the same float32, and the kernel multiplies instead of dividing. Computed here, not in a
  // helper: a helper's double result is boxed whenever V8 does not inline the call.
  const r = 1 / div;
  const divRecip = div !== 1 && Number.isFinite(r) && r !== 0 && Math.fround(r) === r ? r : 0;
  if (h.useEma) for (let i = 0; i < c.all.length; i++) c.all[i].fused = false;
  // Unscaling folds into the kernel unless a norm must be taken of the unscaled gradient.
  const fold = !N && !((inv !== 1 || div !== 1) && (h.clipnorm !== null || h.globalClipnorm !== null));
  if (N) {
    const isUpdate = (c.rawIterations + 1) % N === 0;
    for (let i = 0; i < n; i++) accumulate(c.active[i], inv, isUpdate ? 1 / N : 0);
    if (!isUpdate) return finishStep(c);
  }
  for (let i = 0; i < n; i++) {
    const rec = c.active[i];
    rec.fused = !rec.sparseStep && fusable(c, rec);
    if (N) continue;
    if (rec.fused && fold) rec.densePtr = rec.srcPtr;
    else prepareGradient(rec, inv, div, rec.fused || inv !== 1 || div !== 1 || h.clipnorm !== null || h.clipvalue !== null || h.globalClipnorm !== null);
  }
  const global = clipGradients(c.active, n, h.clipnorm, h.clipvalue, h.globalClipnorm, c.clipFactors);
  const k = c.wd !== null ? Math.fround(c.wdValue.value * lr) : 0;
  if (c.wd !== null) {
    for (let i = 0; i < n; i++) {
      const rec = c.active[i];
      if (rec.decays && !rec.fused) rec.variable.heap.kernels.decay(rec.variable.ptr, rec.variable.size, k);
    }
  }
  h.beforeUpdateSteps(lr);
  const P = c.pipeViews;
  for (let i = 0; i < n; i++) {
    const rec = c.active[i];
    if (rec.variable.disposed) throw new Error(`${c.where()}: variable '${rec.variable.name}' was disposed during the step (by an updateStep hook)`);
    if (rec.sparseStep) h.updateStepSparse((rec.sparse as SparseScratch).result(), rec.variable, lr);
    else if (!rec.fused) h.updateStep(gradientView(rec), rec.variable, lr);
    else {
      const at = P.bind(rec.variable.heap);
      const f = P.f32;
      const s2 = h.globalClipnorm !== null ? global : c.clipFactors[i];
      let flags = fold ? (div !== 1 ? (divRecip !== 0 ? PIPE_MUL : PIPE_DIV) : inv !== 1 ? PIPE_MUL : 0) : 0;
      if (h.clipvalue !== null) flags |= PIPE_CLAMP;
      if (s2 !== 1) flags |= PIPE_MUL2;
      const mul = (flags & PIPE_MUL) === 0 ? 1 : divRecip !== 0 ? divRecip : inv;
      // One multiplier alone (a loss scale's exact reciprocal, lossScaleFactor) is the same single
      // product as a clip factor alone: it travels as MUL2, the kernel's path without the chain.
      const alone = flags === PIPE_MUL;
      if (alone) flags = PIPE_MUL2;
      if (c.wd !== null && rec.decays) flags |= PIPE_DECAY;
      if (h.useEma) {
        flags |= PIPE_EMA;
        f[REC_M] = h.iterations !== 0 ? h.emaMomentum : 0;
        f[REC_OM] = 1 - f[REC_M]; // 1 - m in float32: the ema kernel's own `1 - m`
        P.i32[REC_DELTA] = (rec.avg as Variable).ptr - rec.variable.ptr;
      }
      P.i32[REC_FLAGS] = flags;
      // A field whose flag is off holds its identity (1, +inf): the record always means the same.
      f[REC_D] = div;
      f[REC_S] = (flags & PIPE_MUL) === 0 ? 1 : mul;
      f[REC_C] = h.clipvalue ?? Infinity;
      f[REC_S2] = alone ? mul : (flags & PIPE_MUL2) === 0 ? 1 : s2;
      f[REC_K] = k;
      c.overridable.setPipeline(at);
      try {
        h.updateStep(gradientView(rec), rec.variable, lr);
      } finally {
        c.overridable.setPipeline(0);
        P.bind(rec.variable.heap); // the step may have grown the memory
        P.i32[REC_FLAGS] = 0; // an address kept past this update does nothing
      }
    }
  }
  h.afterUpdateSteps(lr);
  if (N) for (const rec of c.all) if (rec.acc && !rec.acc.disposed) rec.acc.heap.kernels.fill(rec.acc.ptr, rec.acc.size, 0);
  return finishStep(c);
}

/** EMA of the weights (every call, micro-steps included, as in Keras; a fused update did its own), then the counter. */
function finishStep(c: Core): number {
  const h = c.host;
  if (h.useEma) {
    const it = h.iterations;
    const m = it !== 0 ? h.emaMomentum : 0;
    const f = h.emaOverwriteFrequency;
    const overwrite = f !== null && (it + 1) % f === 0;
    for (const rec of c.all) {
      const v = rec.variable;
      if (v.disposed) continue;
      const avg = rec.avg as Variable;
      if (!rec.fused) v.heap.kernels.ema(avg.ptr, v.ptr, v.size, m);
      rec.fused = false;
      if (overwrite) v.heap.kernels.copy(v.ptr, avg.ptr, v.size);
    }
  }
  c.rawIterations++;
  return h.iterations;
}

/** See Optimizer.finalizeVariableValues. */
export function finalizeVariableValues(c: Core, variables?: readonly Variable[]): void {
  const vars = variables === undefined ? c.all.map((r) => r.variable) : variables;
  if (!Array.isArray(vars)) throw new TypeError('finalizeVariableValues: variables must be an array of Variables');
  if (!c.host.useEma) return;
  for (const v of vars) {
    const avg = c.records.get(v)?.avg;
    if (avg && !v.disposed) v.heap.kernels.copy(v.ptr, avg.ptr, v.size);
  }
}

// ---------------------------------------------------------------- step hooks

// Work that must happen inside a step's allocation phase: after every input is checked and every
// buffer allocated, before the first write, so that its failure rolls the step back (a wrapper
// builds its own slots here). Keyed by optimizer.
const stepHooks = new WeakMap<object, (() => void)[]>();

/** Runs `hook` in `opt`'s next step, before the first write. */
export function addStepHook(opt: object, hook: () => void): void {
  const list = stepHooks.get(opt);
  if (list) list.push(hook);
  else stepHooks.set(opt, [hook]);
}

/** Removes and returns the hooks added for `opt` (a wrapper forwards them to its inner optimizer). */
export function takeStepHooks(opt: object): (() => void)[] | undefined {
  const list = stepHooks.get(opt);
  stepHooks.delete(opt);
  return list;
}

function runStepHooks(opt: object): void {
  const list = takeStepHooks(opt);
  if (list) for (const hook of list) hook();
  stagedListeners.get(opt)?.();
}

// A permanent listener per optimizer, run in every step of it after its step hooks, at the same
// point (everything checked and allocated, nothing written): a MultiOptimizer stages its next inner
// optimizer there, so a failure anywhere rolls back every one of them.
const stagedListeners = new WeakMap<object, () => void>();

/** Installs (or, with null, removes) `opt`'s staged listener (see stagedListeners). */
export function setStagedListener(opt: object, listener: (() => void) | null): void {
  if (listener) stagedListeners.set(opt, listener);
  else stagedListeners.delete(opt);
}
