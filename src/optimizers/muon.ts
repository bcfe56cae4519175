import { addStepHook } from '../base/internal.js';
import { Optimizer, type OptimizerOptions, type LearningRate } from '../optimizer.js';
import { type Heap } from '../arena.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config, registerClass } from '../registry.js';
import { checkBoolean, checkNumber, checkOptions, describeValue, optionalNumber } from '../validate.js';
import { type Variable } from '../variable.js';
import { adamStepSize, IO_ALPHA, IO_BETA1, IO_BETA2, IO_LR, IO_T, stepSizeIo } from './bias-correction.js';

export interface MuonOptions extends OptimizerOptions {
  /** First-moment decay of the AdamW path. Default 0.9, in [0, 1). */
  adamBeta1?: number;
  /** Second-moment decay of the AdamW path. Default 0.999, in [0, 1). */
  adamBeta2?: number;
  /** Decoupled decay of the AdamW-path variables (w -= w * adamWeightDecay * lr). Default 0.004; null: none. */
  adamWeightDecay?: number | null;
  /** AdamW path's epsilon, added to sqrt(v). Default 1e-7. */
  epsilon?: number;
  /**
   * Decoupled decay of the Muon-path variables (w -= w * weightDecay * lr, before the update).
   * Default 0.004 (Keras'); null: none. A schedule is evaluated at the learning rate's step.
   */
  weightDecay?: LearningRate | null;
  /** Regular expressions: a variable whose name one of them matches (searched, not anchored) takes the AdamW path. Default []. */
  excludeLayers?: readonly string[] | null;
  /** Variables whose name contains 'embedding' (any case) take the AdamW path. Default true. */
  excludeEmbeddings?: boolean;
  /** Newton-Schulz coefficients. Defaults 3.4445, -4.775, 2.0315. */
  muonA?: number;
  muonB?: number;
  muonC?: number;
  /** The AdamW path's learning rate is learningRate * adamLrRatio. Default 1. */
  adamLrRatio?: number;
  /** Momentum of the Muon path. Default 0.95, in [0, 1]. */
  momentum?: number;
  /** Newton-Schulz iterations. Default 5, an integer >= 0. */
  nsSteps?: number;
  /** Nesterov momentum: orthogonalize g + momentum * m instead of m. Default true. */
  nesterov?: boolean;
  /** The Muon update is scaled by sqrt(max(rows, cols)) * rmsRate (Moonlight). Default 0.2; null: unscaled. */
  rmsRate?: number | null;
}

/** How one variable is updated, decided when it is built. */
interface Route {
  adam: boolean;
  decays: boolean;
  rows: number;
  cols: number;
  /** f32(sqrt(max(rows, cols))). */
  scale: number;
}

/**
 * Muon, as Keras 3's (keras/src/optimizers/muon.py): 2-D variables take momentum, Newton-Schulz
 * orthogonalization (a SIMD matrix-multiply kernel, assembly/matmul.ts) and an RMS-matched scale;
 * variables that are not 2-D, whose name contains 'embedding' (excludeEmbeddings) or matches an
 * excludeLayers expression take the AdamW path (the adam kernel, with learningRate * adamLrRatio
 * and adamWeightDecay). Both weight decays use the full learning rate, as Keras'. Sparse
 * gradients are densified (as Keras' dense ops do with them). Scratch for the iteration (two
 * copies of the largest matrix, two n x n products, a pack buffer) is allocated when a variable is
 * built (before the step's first write), never during an update.
 */
export class Muon extends Optimizer {
  static override readonly className: string = 'Muon';
  static override readonly optionNames: readonly string[] = [
    'adamBeta1', 'adamBeta2', 'adamWeightDecay', 'epsilon', 'excludeLayers', 'excludeEmbeddings',
    'muonA', 'muonB', 'muonC', 'adamLrRatio', 'momentum', 'nsSteps', 'nesterov', 'rmsRate',
  ];
  static override readonly fusesPipeline: boolean = true;
  readonly adamBeta1: number;
  readonly adamBeta2: number;
  readonly adamWeightDecay: number | null;
  readonly epsilon: number;
  readonly excludeLayers: readonly string[];
  readonly excludeEmbeddings: boolean;
  readonly muonA: number;
  readonly muonB: number;
  readonly muonC: number;
  readonly adamLrRatio: number;
  readonly momentum: number;
  readonly nsSteps: number;
  readonly nesterov: boolean;
  readonly rmsRate: number | null;
  private readonly muonWd: ScheduledOption | null;
  private readonly excludeRegexes: readonly RegExp[];
  private readonly routes = new Map<Variable, Route>();
  /** Variables and names excluded from weight decay (a copy of what excludeFromWeightDecay was given). */
  private noDecayVars: ReadonlySet<Variable> = new Set();
  private noDecayNames: RegExp | null = null;
  private scratch = 0;
  private scratchFloats = 0;
  private scratchHeap: Heap | null = null;
  private needFloats = 0;
  private needHeap: Heap | null = null;
  private readonly growScratch = (): void => this.allocateScratch();

  constructor(options: MuonOptions = {}) {
    // Read once: only this copy is checked and used.
    const o: MuonOptions = { ...checkOptions((new.target as typeof Muon).className, options) };
    // The base class decays every variable alike; Muon decays each path with its own rate, here.
    super({ ...o, weightDecay: null });
    const name = this.getClassName();
    this.muonWd = o.weightDecay === null ? null : this.scheduledOption('weightDecay', o.weightDecay ?? 0.004, { min: 0 });
    this.adamBeta1 = checkNumber(`${name}: adamBeta1`, o.adamBeta1 ?? 0.9, { min: 0, max: 1, maxExclusive: true, float32: true });
    this.adamBeta2 = checkNumber(`${name}: adamBeta2`, o.adamBeta2 ?? 0.999, { min: 0, max: 1, maxExclusive: true, float32: true });
    this.adamWeightDecay = o.adamWeightDecay === null ? null : checkNumber(`${name}: adamWeightDecay`, o.adamWeightDecay ?? 0.004, { min: 0, float32: true });
    this.epsilon = checkNumber(`${name}: epsilon`, o.epsilon ?? 1e-7, { min: 0, float32: true });
    const layers: unknown = o.excludeLayers ?? [];
    if (!Array.isArray(layers)) throw new TypeError(`${name}: excludeLayers must be an array of strings (regular expressions), got ${describeValue(layers)}`);
    const copy = [...(layers as unknown[])];
    const bad = copy.findIndex((s) => typeof s !== 'string');
    if (bad >= 0) throw new TypeError(`${name}: excludeLayers[${bad}] must be a string (a regular expression), got ${describeValue(copy[bad])}`);
    this.excludeLayers = Object.freeze(copy as string[]);
    this.excludeRegexes = this.excludeLayers.map((s, i) => {
      try {
        return new RegExp(s);
      } catch (e) {
        throw new SyntaxError(`${name}: excludeLayers[${i}] is not a valid regular expression: ${(e as Error).message}`);
      }
    });
    this.excludeEmbeddings = checkBoolean(`${name}: excludeEmbeddings`, o.excludeEmbeddings ?? true);
    this.muonA = checkNumber(`${name}: muonA`, o.muonA ?? 3.4445, { float32: true });
    this.muonB = checkNumber(`${name}: muonB`, o.muonB ?? -4.775, { float32: true });
    this.muonC = checkNumber(`${name}: muonC`, o.muonC ?? 2.0315, { float32: true });
    this.adamLrRatio = checkNumber(`${name}: adamLrRatio`, o.adamLrRatio ?? 1, { min: 0, float32: true });
    this.momentum = checkNumber(`${name}: momentum`, o.momentum ?? 0.95, { min: 0, max: 1, float32: true });
    this.nsSteps = checkNumber(`${name}: nsSteps`, o.nsSteps ?? 5, { min: 0, integer: true });
    this.nesterov = checkBoolean(`${name}: nesterov`, o.nesterov ?? true);
    this.rmsRate = optionalNumber(`${name}: rmsRate`, o.rmsRate === undefined ? 0.2 : o.rmsRate, { min: 0, float32: true });
  }

  /** Decay of the Muon-path variables for the next update (a schedule's value), or null. */
  override get weightDecay(): number | null {
    return this.muonWd === null ? null : this.optionValue(this.muonWd);
  }

  override get weightDecaySchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return this.muonWd === null ? null : this.optionSchedule(this.muonWd);
  }

  /** True when `variable` takes the AdamW path (Keras' _should_use_adamw). */
  usesAdamW(variable: Variable): boolean {
    if (variable.shape.length !== 2) return true;
    if (this.excludeEmbeddings && variable.name.toLowerCase().includes('embedding')) return true;
    return this.excludeRegexes.some((r) => r.test(variable.name));
  }

  override excludeFromWeightDecay(options: { variables?: readonly Variable[]; names?: readonly string[] }): void {
    // A private copy (arrays included) is what the base class checks and what both keep.
    const o: unknown = options !== null && typeof options === 'object' ? { ...options } : options;
    if (o !== null && typeof o === 'object') {
      const r = o as { variables?: unknown; names?: unknown };
      if (Array.isArray(r.variables)) r.variables = [...(r.variables as unknown[])];
      if (Array.isArray(r.names)) r.names = [...(r.names as unknown[])];
    }
    super.excludeFromWeightDecay(o as { variables?: readonly Variable[]; names?: readonly string[] });
    const checked = o as { variables?: readonly Variable[]; names?: readonly string[] } | undefined;
    const names = checked?.names ?? [];
    this.noDecayVars = new Set(checked?.variables ?? []);
    this.noDecayNames = names.length ? new RegExp(names.join('|')) : null;
    for (const [v, route] of this.routes) route.decays = this.decayApplies(v);
  }

  override build(variables: readonly Variable[]): void {
    for (const [v] of this.routes) if (v.disposed) this.routes.delete(v);
    for (const v of variables) {
      const adam = this.usesAdamW(v);
      const rows = v.shape.length === 2 ? v.shape[0] : 0;
      const cols = v.shape.length === 2 ? v.shape[1] : 0;
      this.addVariableFromReference(v, 'momentum');
      if (adam) this.addVariableFromReference(v, 'velocity');
      this.routes.set(v, { adam, decays: this.decayApplies(v), rows, cols, scale: Math.fround(Math.sqrt(Math.max(rows, cols))) });
      if (!adam) {
        const need = v.heap.kernels.muonScratchFloats(rows, cols);
        if (need > this.needFloats || v.heap !== this.needHeap) {
          this.needFloats = v.heap !== this.needHeap ? need : Math.max(need, this.needFloats);
          this.needHeap = v.heap;
          // Allocated at the end of the step's allocation phase: a refused step allocates nothing.
          addStepHook(this, this.growScratch);
        }
      }
    }
  }

  /** adamStepSize's inputs and result (./bias-correction.ts). */
  private readonly io = stepSizeIo();

  override updateStep(gradient: Float32Array, variable: Variable, lr: number): void {
    const route = this.routes.get(variable) as Route;
    const K = variable.heap.kernels;
    const wd = route.adam ? this.adamWeightDecay : this.muonWd === null ? null : this.muonWd.value;
    // As the base class decays (before the update, with the full learning rate): w -= w * f32(f32(wd) * lr).
    if (wd !== null && route.decays) K.decay(variable.ptr, variable.size, Math.fround(Math.fround(wd) * lr));
    const m = this.getSlot(variable, 'momentum').ptr;
    if (route.adam) {
      // Adam.updateStep's arithmetic (so this path equals AdamW bit for bit), at lr * adamLrRatio.
      const t = this.iterations + 1;
      const alr = Math.fround(lr * Math.fround(this.adamLrRatio));
      const io = this.io;
      io[IO_LR] = alr;
      io[IO_BETA1] = this.adamBeta1;
      io[IO_BETA2] = this.adamBeta2;
      io[IO_T] = t;
      adamStepSize(io);
      const alpha = io[IO_ALPHA];
      K.adam(variable.ptr, gradient.byteOffset, m, this.getSlot(variable, 'velocity').ptr, variable.size, 1 - this.adamBeta1, 1 - this.adamBeta2, alpha, this.epsilon, this.pipeline);
      return;
    }
    if (this.scratchFloats < this.needFloats || this.scratchHeap !== variable.heap) this.allocateScratch(); // built outside a step of this optimizer
    const rr = this.rmsRate;
    K.muonUpdate(
      variable.ptr, gradient.byteOffset, m, this.scratch, route.rows, route.cols,
      this.momentum, this.momentum - 1, this.nesterov ? 1 : 0, this.nsSteps, this.muonA, this.muonB, this.muonC,
      lr, route.scale, rr ?? 1, rr === null ? 0 : 1, this.pipeline,
    );
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      weightDecay: this.muonWd === null ? null : this.muonWd.config(),
      adamBeta1: this.adamBeta1,
      adamBeta2: this.adamBeta2,
      adamWeightDecay: this.adamWeightDecay,
      epsilon: this.epsilon,
      excludeLayers: [...this.excludeLayers],
      excludeEmbeddings: this.excludeEmbeddings,
      muonA: this.muonA,
      muonB: this.muonB,
      muonC: this.muonC,
      adamLrRatio: this.adamLrRatio,
      momentum: this.momentum,
      nsSteps: this.nsSteps,
      nesterov: this.nesterov,
      rmsRate: this.rmsRate,
    };
  }

  override dispose(): void {
    super.dispose();
    if (this.scratchHeap !== null) this.scratchHeap.free(this.scratch);
    this.scratchHeap = null;
    this.scratch = 0;
    this.scratchFloats = 0;
  }

  private decayApplies(v: Variable): boolean {
    return !this.noDecayVars.has(v) && !(this.noDecayNames?.test(v.name) ?? false);
  }

  /** Grows the scratch to what the built variables need (allocates before freeing: an error changes nothing). */
  private allocateScratch(): void {
    const heap = this.needHeap;
    if (heap === null || (this.scratchFloats >= this.needFloats && this.scratchHeap === heap)) return;
    const ptr = heap.alloc(this.needFloats * 4);
    if (this.scratchHeap !== null) this.scratchHeap.free(this.scratch);
    this.scratch = ptr;
    this.scratchFloats = this.needFloats;
    this.scratchHeap = heap;
  }
}
registerClass(Muon);
