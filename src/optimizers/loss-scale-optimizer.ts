import { type Gradient, type GradientVariablePair, type LearningRate, Optimizer, type OptimizerState } from '../optimizer.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, deserialize, isSerializedObject, registerClass } from '../registry.js';
import { type SparseGradient } from '../sparse.js';
import { checkNumber, checkOptions } from '../validate.js';
import { Variable } from '../variable.js';

export interface LossScaleOptimizerOptions {
  /** Default 2**15. */
  initialScale?: number;
  /** Double the scale after this many consecutive finite steps. Default 2000. */
  dynamicGrowthSteps?: number;
  name?: string;
}

interface Unscaled {
  buf: Variable;
  pair: [Gradient, Variable];
  sparse: { indices: Int32Array | readonly number[]; values: Float32Array };
}

/**
 * Dynamic loss scaling (Keras 3's LossScaleOptimizer) around any optimizer: multiply the loss by
 * `scaleLoss(loss)`, pass the scaled gradients here. A step whose gradients are all finite is
 * unscaled and applied by the inner optimizer (the scale doubles every `dynamicGrowthSteps` such
 * steps); otherwise nothing is applied and the scale is halved.
 * Clipping, decay, EMA and accumulation belong to the inner optimizer.
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

  constructor(inner: Optimizer, opts: LossScaleOptimizerOptions = {}) {
    const options = checkOptions('LossScaleOptimizer', opts);
    super({ name: options.name });
    if (!(inner instanceof Optimizer)) throw new TypeError('LossScaleOptimizer: inner must be an Optimizer');
    const extra = Object.keys(options).filter((k) => !['initialScale', 'dynamicGrowthSteps', 'name'].includes(k));
    if (extra.length) {
      throw new TypeError(`LossScaleOptimizer: unknown option(s) ${extra.join(', ')}: clipping, decay, EMA and accumulation go on the inner optimizer`);
    }
    this.inner = inner;
    this.initialScale = checkNumber('LossScaleOptimizer: initialScale', options.initialScale ?? 2 ** 15, { min: 0, minExclusive: true });
    this.dynamicGrowthSteps = checkNumber('LossScaleOptimizer: dynamicGrowthSteps', options.dynamicGrowthSteps ?? 2000, { min: 1, integer: true });
    this.scale = this.initialScale;
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
    this.inner.validateGradients(pairs);
    const inv = 1 / this.scale;
    // Where each wasm-resident gradient lies, read before our buffers are allocated: an
    // allocation may grow the memory and detach the caller's views.
    const ptrs = this.ptrs;
    for (let i = 0; i < pairs.length; i++) {
      const g = pairs[i][0];
      const values = g === null || g === undefined ? null : g instanceof Float32Array ? g : (g as SparseGradient).values;
      ptrs[i] = values !== null && values.buffer === pairs[i][1].heap.memory.buffer ? values.byteOffset : -1;
      this.lens[i] = values === null ? 0 : values.length;
    }
    for (let i = 0; i < pairs.length; i++) {
      const g = pairs[i][0];
      if (g !== null && g !== undefined) this.bufferFor(pairs[i][1], g);
    }
    let finite = true;
    // Written by index: truncating with `length = 0` would free the array's store every step.
    if (this.pairs.length !== pairs.length) this.pairs.length = pairs.length;
    for (let i = 0; i < pairs.length; i++) {
      const g = pairs[i][0];
      const v = pairs[i][1];
      if (g === null || g === undefined) {
        this.pairs[i] = pairs[i] as [Gradient, Variable];
        continue;
      }
      const u = this.unscaled.get(v) as Unscaled;
      const K = v.heap.kernels;
      // Unscale into our own wasm buffer (the caller's gradient is never written), then check it.
      const n = this.lens[i];
      if (ptrs[i] >= 0) K.scaleCopy(u.buf.ptr, ptrs[i], n, inv);
      else {
        u.buf.value.set(g instanceof Float32Array ? g : (g as SparseGradient).values);
        K.scaleCopy(u.buf.ptr, u.buf.ptr, n, inv);
      }
      if (finite && K.allFinite(u.buf.ptr, n) === 0) finite = false;
      if (g instanceof Float32Array) u.pair[0] = u.buf.value;
      else {
        u.sparse.indices = (g as SparseGradient).indices;
        u.sparse.values = u.buf.value.subarray(0, n);
        u.pair[0] = u.sparse;
      }
      this.pairs[i] = u.pair;
    }
    if (!finite) {
      this.scale /= 2;
      this.counter = 0;
      this.skipped++;
      return this.iterations;
    }
    // The inner step may still refuse (its schedule, say): only a step that happened counts.
    const it = this.inner.applyGradients(this.pairs);
    if (this.counter + 1 >= this.dynamicGrowthSteps) {
      this.counter = 0;
      this.scale *= 2;
    } else this.counter++;
    return it;
  }

  /** A private wasm buffer per variable for its unscaled gradient: the variable's size for a dense gradient, grown on demand for sparse values. */
  private bufferFor(v: Variable, g: Gradient): Unscaled {
    const n = g instanceof Float32Array ? g.length : (g as SparseGradient).values.length;
    let u = this.unscaled.get(v);
    if (!u || u.buf.size < n) {
      u?.buf.dispose();
      const buf = Variable.zeros([Math.max(n, v.size)], { name: `${v.name}/unscaled_gradient` }, v.heap);
      u = { buf, pair: [null, v], sparse: { indices: [], values: buf.value } };
      this.unscaled.set(v, u);
    }
    if (g instanceof Float32Array && u.buf.size !== v.size) {
      // a dense gradient needs a buffer of exactly the variable's size
      u.buf.dispose();
      u.buf = Variable.zeros(v.shape, { name: `${v.name}/unscaled_gradient` }, v.heap);
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
    this.inner.setState({ className: this.inner.getClassName(), iterations: state.iterations, variables: rest }, variables);
    this.scale = sv as number;
    this.counter = cv as number;
  }

  override dispose(): void {
    for (const u of this.unscaled.values()) u.buf.dispose();
    this.unscaled.clear();
    this.inner.dispose();
    super.dispose();
  }
}
registerClass(LossScaleOptimizer);
