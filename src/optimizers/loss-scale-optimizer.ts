import { addStepHook, restoreByName, setGradientDivisor, takeStepHooks } from '../base/internal.js';
import { type Gradient, type GradientVariablePair, type LearningRate, Optimizer, type OptimizerState } from '../optimizer.js';
import { type StateEntries } from '../state-input.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, deserialize, isSerializedObject, registerClass } from '../registry.js';
import { type SparseGradient } from '../sparse.js';
import { isFloat32Array, typedBuffer, typedByteOffset, typedLength } from '../typed.js';
import { checkNumber, checkOptions } from '../validate.js';
import { Variable } from '../variable.js';

export interface LossScaleOptimizerOptions {
  /** Default 2**15. */
  initialScale?: number;
  /** Double the scale after this many consecutive finite steps. Default 2000. */
  dynamicGrowthSteps?: number;
  name?: string;
}

/** The base class's step: an inner optimizer that has it takes the division as its first operation. */
const BASE_APPLY = Optimizer.prototype.applyGradients;

interface Unscaled {
  buf: Variable;
  pair: [Gradient, Variable];
  sparse: { indices: Int32Array | readonly number[]; values: Float32Array };
}

/**
 * Dynamic loss scaling (Keras 3's LossScaleOptimizer) around any optimizer: multiply the loss by
 * `scaleLoss(loss)`, pass the scaled gradients here. A step whose gradients are all finite is
 * unscaled (divided by the float32 scale) and applied by the inner optimizer (the scale doubles
 * every `dynamicGrowthSteps` such steps); otherwise nothing is applied and the scale is halved.
 * Clipping, decay, EMA and accumulation belong to the inner optimizer.
 *
 * As in Keras, wrapping sets the inner optimizer's `lossScaleFactor` to null (for good: it is
 * not restored; through Lookahead/SWA, the optimizer they wrap), so the gradients are unscaled
 * once, by the dynamic scale.
 *
 * Deliberate difference from Keras (docs/keras-compat.md): finiteness is checked AFTER unscaling.
 * With a scale below 1, a finite gradient that overflows float32 when divided by the scale skips
 * the step (and halves the scale); Keras checks the scaled gradient, applies the step and writes
 * -inf/inf into the weights.
 */
export class LossScaleOptimizer extends Optimizer {
  static override readonly className: string = 'LossScaleOptimizer';
  readonly inner: Optimizer;
  readonly initialScale: number;
  readonly dynamicGrowthSteps: number;
  private scale: number;
  private counter = 0;
  private skipped = 0;
  private readonly unscaled = new Map<Variable, Unscaled>();
  private readonly pairs: [Gradient, Variable][] = [];
  private readonly ptrs: number[] = [];
  private readonly lens: number[] = [];
  // This step's snapshot of the caller's pairs: each user-supplied field read once, then only
  // this is validated and used. Reused (no allocation per step); cleared after the step.
  private readonly snap: GradientVariablePair[] = [];
  private readonly snapPairs: [Gradient, Variable | undefined][] = [];
  private readonly snapSparse: { indices: Int32Array | readonly number[]; values: Float32Array }[] = [];

  constructor(inner: Optimizer, opts: LossScaleOptimizerOptions = {}) {
    const options = checkOptions('LossScaleOptimizer', opts);
    super({ name: options.name });
    if (!(inner instanceof Optimizer)) throw new TypeError('LossScaleOptimizer: inner must be an Optimizer');
    const extra = Object.keys(options).filter((k) => !['initialScale', 'dynamicGrowthSteps', 'name'].includes(k));
    if (extra.length) {
      throw new TypeError(`LossScaleOptimizer: unknown option(s) ${extra.join(', ')}: clipping, decay, EMA and accumulation go on the inner optimizer`);
    }
    this.inner = inner;
    this.initialScale = checkNumber('LossScaleOptimizer: initialScale', options.initialScale ?? 2 ** 15, { min: 0, minExclusive: true, float32: true });
    this.dynamicGrowthSteps = checkNumber('LossScaleOptimizer: dynamicGrowthSteps', options.dynamicGrowthSteps ?? 2000, { min: 1, integer: true });
    // Keras keeps the scale in a float32 variable (and so does our saved state).
    this.scale = Math.fround(this.initialScale);
    // Keras: `inner_optimizer.loss_scale_factor = None`, or the gradients would be unscaled twice.
    // Down a chain of wrappers (Lookahead, SWA) too: the innermost optimizer runs that part of the
    // pipeline. Last, so that a refused construction leaves the inner optimizers as they were.
    for (let o: Optimizer | undefined = inner; o; o = (o as { inner?: Optimizer }).inner) {
      (o as { lossScaleFactor: number | null }).lossScaleFactor = null;
    }
  }

  /** The current loss scale. */
  get dynamicScale(): number {
    return this.scale;
  }

  /** `loss * dynamicScale`: differentiate this, then pass the gradients to applyGradients. */
  scaleLoss(loss: number): number {
    if (typeof loss !== 'number') throw new TypeError(`LossScaleOptimizer.scaleLoss: loss must be a number, got ${typeof loss}`);
    return loss * this.scale;
  }

  override get iterations(): number {
    return this.inner.iterations;
  }

  override get variables(): readonly Variable[] {
    return this.inner.variables;
  }

  /** Steps skipped for non-finite gradients: by the dynamic scaling, plus any the inner optimizer skipped. */
  override get nonFiniteSkips(): number {
    return this.skipped + this.inner.nonFiniteSkips;
  }

  override get learningRate(): number {
    return this.inner.learningRate;
  }

  override set learningRate(value: LearningRate) {
    this.inner.learningRate = value;
  }

  override get learningRateSchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return this.inner.learningRateSchedule;
  }

  override getSlot(variable: Variable, name: string): Variable {
    return this.inner.getSlot(variable, name);
  }

  override excludeFromWeightDecay(options: { variables?: readonly Variable[]; names?: readonly string[] }): void {
    this.inner.excludeFromWeightDecay(options);
  }

  override applyGradients(pairs: readonly GradientVariablePair[]): number {
    this.checkAlive('applyGradients');
    // An outer wrapper's step hooks run in the inner optimizer's step (dropped if it does not run).
    const outer = takeStepHooks(this);
    if (outer) for (const hook of outer) addStepHook(this.inner, hook);
    try {
      return this.step(this.snapshot(pairs));
    } finally {
      if (outer) takeStepHooks(this.inner); // a skipped step built nothing
      this.releaseSnapshot(); // do not keep the caller's arrays alive
    }
  }

  /**
   * Reads the caller's pairs exactly once: the array's length and elements, each pair's length and
   * two entries, a sparse gradient's `in` checks, `indices` and `values`. A getter or Proxy that
   * answers differently on a second read cannot reach what was validated. Input the inner
   * optimizer would refuse is replaced by a stand-in it refuses with the same message.
   */
  private snapshot(pairs: readonly GradientVariablePair[]): readonly GradientVariablePair[] {
    if (!Array.isArray(pairs)) return pairs; // refused as is: nothing is read from it
    const count = pairs.length;
    const snap = this.snap;
    // Written by index: truncating with `length = 0` would free the array's store every step.
    if (snap.length !== count) snap.length = count;
    for (let i = 0; i < count; i++) {
      const pair: unknown = pairs[i];
      if (!Array.isArray(pair) || pair.length !== 2) {
        snap[i] = NOT_A_PAIR;
        continue;
      }
      const g: unknown = pair[0];
      const v = pair[1] as Variable;
      const p = (this.snapPairs[i] ??= [null, undefined]);
      p[1] = v;
      if (g === null || g === undefined || isFloat32Array(g) || typeof g !== 'object' || ArrayBuffer.isView(g)) {
        p[0] = g as Gradient; // a genuine typed array or a primitive: nothing more to read
      } else if ('indices' in g && 'values' in g) {
        const s = (this.snapSparse[i] ??= { indices: EMPTY_INDICES, values: EMPTY_VALUES });
        const { indices, values } = g as SparseGradient; // one read each
        s.indices = indices;
        s.values = values;
        p[0] = s;
      } else p[0] = NOT_A_GRADIENT;
      snap[i] = p as GradientVariablePair;
    }
    return snap;
  }

  private releaseSnapshot(): void {
    // Indexed loops: a for-of iterator could allocate every step.
    const pairs = this.pairs;
    for (let i = 0; i < pairs.length; i++) {
      const g = pairs[i]?.[0];
      if (g !== null && g !== undefined && !isFloat32Array(g)) g.indices = EMPTY_INDICES; // our u.sparse
    }
    // Both lists are filled on demand by pair index, so they may have holes.
    const snap = this.snapPairs;
    for (let i = 0; i < snap.length; i++) {
      const p = snap[i];
      if (p === undefined) continue;
      p[0] = null;
      p[1] = undefined;
    }
    const sparse = this.snapSparse;
    for (let i = 0; i < sparse.length; i++) {
      const s = sparse[i];
      if (s === undefined) continue;
      s.indices = EMPTY_INDICES;
      s.values = EMPTY_VALUES;
    }
  }

  /** One step on the snapshot, which the inner optimizer validates first. */
  private step(pairs: readonly GradientVariablePair[]): number {
    this.inner.validateGradients(pairs);
    if (this.foldable(pairs)) return this.foldedStep(pairs);
    // Validated: every gradient is null, a genuine Float32Array or { indices, values } with
    // genuine Float32Array values. Their length and place are read from the engine (a subclass
    // getter cannot lie), before our buffers are allocated: an allocation may grow the memory and
    // detach the caller's views.
    const count = pairs.length;
    const ptrs = this.ptrs;
    for (let i = 0; i < count; i++) {
      const g = pairs[i][0];
      const values = g === null || g === undefined ? null : isFloat32Array(g) ? g : g.values;
      ptrs[i] = values !== null && typedBuffer(values) === pairs[i][1].heap.memory.buffer ? typedByteOffset(values) : -1;
      this.lens[i] = values === null ? 0 : typedLength(values);
    }
    for (let i = 0; i < count; i++) {
      const g = pairs[i][0];
      if (g !== null && g !== undefined) this.bufferFor(pairs[i][1], this.lens[i]);
    }
    const scale = this.scale;
    let finite = true;
    if (this.pairs.length !== count) this.pairs.length = count;
    for (let i = 0; i < count; i++) {
      const g = pairs[i][0];
      const v = pairs[i][1];
      if (g === null || g === undefined) {
        this.pairs[i] = pairs[i] as [Gradient, Variable];
        continue;
      }
      const u = this.unscaled.get(v) as Unscaled;
      const K = v.heap.kernels;
      // Unscale into our own wasm buffer (the caller's gradient is never written), then check it.
      // n is the one length read above: the buffer was sized from it and the copy uses it.
      const n = this.lens[i];
      if (ptrs[i] >= 0) K.divCopy(u.buf.ptr, ptrs[i], n, scale);
      else {
        u.buf.value.set(isFloat32Array(g) ? g : g.values); // n floats into a buffer of at least n
        K.divCopy(u.buf.ptr, u.buf.ptr, n, scale);
      }
      if (finite && K.allFinite(u.buf.ptr, n) === 0) finite = false;
      if (isFloat32Array(g)) u.pair[0] = u.buf.value;
      else {
        u.sparse.indices = g.indices;
        if (typedLength(u.sparse.values) !== n || typedBuffer(u.sparse.values) !== v.heap.memory.buffer) {
          u.sparse.values = u.buf.value.subarray(0, n);
        }
        u.pair[0] = u.sparse;
      }
      this.pairs[i] = u.pair;
    }
    if (!finite) return this.skip();
    // The inner step may still refuse (its schedule, say): only a step that happened counts.
    return this.grow(this.inner.applyGradients(this.pairs));
  }

  /**
   * Whether the unscaling can be the inner optimizer's first operation (src/base/step.ts): every
   * gradient null or dense in wasm memory (validated: genuine Float32Arrays), an inner optimizer
   * whose step is the base class's, without gradient accumulation. Then no unscaled copy is made.
   */
  private foldable(pairs: readonly GradientVariablePair[]): boolean {
    const inner = this.inner;
    if (inner.applyGradients !== BASE_APPLY || inner.gradientAccumulationSteps !== null) return false;
    for (let i = 0; i < pairs.length; i++) {
      const g = pairs[i][0];
      if (g !== null && g !== undefined && (!isFloat32Array(g) || typedBuffer(g) !== pairs[i][1].heap.memory.buffer)) return false;
    }
    return true;
  }

  /** The step with the division by the scale folded into the inner step: checked here, read-only. */
  private foldedStep(pairs: readonly GradientVariablePair[]): number {
    const scale = this.scale;
    for (let i = 0; i < pairs.length; i++) {
      const g = pairs[i][0] as Float32Array | null | undefined;
      if (g === null || g === undefined) continue;
      const K = pairs[i][1].heap.kernels;
      // Dividing by a scale of at least 1 cannot overflow (|g / s| <= |g|, and rounding is
      // monotonic), so g / s is finite exactly when g is: the check needs no division.
      const finite = scale >= 1 ? K.allFinite(typedByteOffset(g), typedLength(g)) : K.allFiniteDiv(typedByteOffset(g), typedLength(g), scale);
      if (finite === 0) return this.skip();
    }
    setGradientDivisor(this.inner, scale);
    let it: number;
    try {
      it = this.inner.applyGradients(pairs);
    } finally {
      setGradientDivisor(this.inner, 1);
    }
    return this.grow(it);
  }

  /** A step with a non-finite unscaled gradient: nothing applied, the scale halved. */
  private skip(): number {
    this.scale = Math.fround(this.scale / 2);
    this.counter = 0;
    this.skipped++;
    return this.iterations;
  }

  /** After a step the inner optimizer took: the scale doubles every dynamicGrowthSteps of them. */
  private grow(it: number): number {
    if (this.counter + 1 >= this.dynamicGrowthSteps) {
      this.counter = 0;
      this.scale = Math.fround(this.scale * 2);
    } else this.counter++;
    return it;
  }

  /**
   * A private wasm buffer per variable for its unscaled gradient, of at least `n` floats (the
   * gradient's length as read once): the variable's size for a dense gradient, grown on demand
   * for sparse values.
   */
  private bufferFor(v: Variable, n: number): Unscaled {
    let u = this.unscaled.get(v);
    if (!u || u.buf.size < n) {
      u?.buf.dispose();
      const buf = Variable.zeros([Math.max(n, v.size)], { name: `${v.name}/unscaled_gradient` }, v.heap);
      u = { buf, pair: [null, v], sparse: { indices: EMPTY_INDICES, values: EMPTY_VALUES } };
      this.unscaled.set(v, u);
    }
    if (n === v.size && u.buf.size !== v.size) {
      // a dense gradient needs a buffer of exactly the variable's size
      u.buf.dispose();
      u.buf = Variable.zeros(v.shape, { name: `${v.name}/unscaled_gradient` }, v.heap);
      u.sparse.values = EMPTY_VALUES; // a view of the old buffer
    }
    return u;
  }

  override updateStep(): void {
    throw new Error('LossScaleOptimizer.updateStep: the inner optimizer does the updates');
  }

  override prepare(variables: readonly Variable[]): void {
    this.inner.prepare(variables);
  }

  override finalizeVariableValues(variables?: readonly Variable[]): void {
    this.inner.finalizeVariableValues(variables);
  }

  override getConfig(): Config {
    return {
      name: this.name,
      inner: { className: this.inner.getClassName(), config: this.inner.getConfig() },
      initialScale: this.initialScale,
      dynamicGrowthSteps: this.dynamicGrowthSteps,
    };
  }

  static override fromConfig<T extends Optimizer>(this: new (options: never) => T, config: Config): T {
    const inner = config?.inner;
    if (!isSerializedObject(inner)) throw new TypeError('LossScaleOptimizer.fromConfig: config.inner must be { className, config }');
    const { initialScale, dynamicGrowthSteps, name } = config as { initialScale?: number; dynamicGrowthSteps?: number; name?: string };
    return new LossScaleOptimizer(deserialize(inner, 'optimizer') as Optimizer, { initialScale, dynamicGrowthSteps, name }) as unknown as T;
  }

  override getState(): OptimizerState {
    const s = this.inner.getState();
    return {
      className: this.getClassName(),
      iterations: s.iterations,
      variables: {
        ...s.variables,
        'loss_scale/dynamic_scale': { shape: [1], values: new Float32Array([this.scale]) },
        'loss_scale/step_counter': { shape: [1], values: new Float32Array([this.counter]) },
      },
      ...(s.plateau ? { plateau: s.plateau } : {}),
    };
  }

  override setState(state: OptimizerState, variables?: readonly Variable[]): void {
    const where = 'LossScaleOptimizer.setState';
    if (state?.className !== this.getClassName()) {
      throw new Error(`${where}: the state belongs to a ${String(state?.className)}, not a LossScaleOptimizer`);
    }
    const { 'loss_scale/dynamic_scale': scale, 'loss_scale/step_counter': counter, ...rest } = state.variables ?? {};
    const sv = scale?.values?.[0];
    const cv = counter?.values?.[0];
    checkNumber(`${where}: loss_scale/dynamic_scale`, sv, { min: 0, minExclusive: true });
    checkNumber(`${where}: loss_scale/step_counter`, cv, { min: 0, integer: true });
    const plateau = state.plateau;
    this.inner.setState({ className: this.inner.getClassName(), iterations: state.iterations, variables: rest, ...(plateau === undefined ? {} : { plateau }) }, variables);
    this.scale = sv as number;
    this.counter = cv as number;
  }

  /** The loss-scale entries here (checked first), every other one in the inner optimizer. */
  protected override restoreEntries(entries: StateEntries): void {
    const where = 'LossScaleOptimizer.setState';
    const inner: StateEntries = new Map(entries);
    const scale = inner.get('loss_scale/dynamic_scale');
    const counter = inner.get('loss_scale/step_counter');
    inner.delete('loss_scale/dynamic_scale');
    inner.delete('loss_scale/step_counter');
    if (scale) checkNumber(`${where}: loss_scale/dynamic_scale`, scale.values[0], { min: 0, minExclusive: true });
    if (counter) checkNumber(`${where}: loss_scale/step_counter`, counter.values[0], { min: 0, integer: true });
    restoreByName(this.inner, inner);
    if (scale) this.scale = scale.values[0];
    if (counter) this.counter = counter.values[0];
  }

  override dispose(): void {
    for (const u of this.unscaled.values()) u.buf.dispose();
    this.unscaled.clear();
    this.inner.dispose();
    super.dispose();
  }
}
registerClass(LossScaleOptimizer);

const EMPTY_INDICES = new Int32Array(0);
const EMPTY_VALUES = new Float32Array(0);
// Stand-ins for input the inner optimizer refuses, with the message the original would get.
const NOT_A_PAIR = null as unknown as GradientVariablePair;
const NOT_A_GRADIENT = Object.freeze({}) as unknown as Gradient;
