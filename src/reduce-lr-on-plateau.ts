// ReduceLROnPlateau with Keras 3's callback semantics, for custom loops: call `update(value)` once
// per epoch (or evaluation). It multiplies whatever the learning rate is, a constant or a
// schedule, so it never crashes on a schedule (tensorflow #36612). Its progress (best, wait,
// cooldown, the factor applied so far) lives in the optimizer, so a checkpoint of the optimizer
// carries it and a resumed run continues exactly.
import { learningRateOwner, plateauOf, setPlateau } from './base/internal.js';
import { type Optimizer } from './optimizer.js';
import { checkOptionNames } from './options.js';
import { type PlateauState } from './state-input.js';
import { checkNumber, checkOptions, describeValue } from './validate.js';

export interface ReduceLROnPlateauOptions {
  /** The metric's name (for the tfjs callback and 'auto' mode). Default 'val_loss'. */
  monitor?: string;
  /** Multiplies the learning rate at each reduction. Default 0.1, in [0, 1). */
  factor?: number;
  /** Updates with no improvement before a reduction. Default 10. */
  patience?: number;
  /** 'min', 'max', or 'auto' (max when the monitor's name contains 'acc'). Default 'auto'. */
  mode?: 'auto' | 'min' | 'max';
  /** The smallest change that counts as an improvement. Default 1e-4. */
  minDelta?: number;
  /** Updates to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
  /** The learning rate is not reduced below this. Default 0. */
  minLr?: number;
}

const NAMES = ['monitor', 'factor', 'patience', 'mode', 'minDelta', 'cooldown', 'minLr'];

export class ReduceLROnPlateau {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  /** The optimizer that owns the learning rate (a wrapper's inner optimizer). */
  private readonly target: Optimizer;

  /**
   * Attaches to `optimizer`. If it already holds a plateau's progress (restored from a
   * checkpoint), that progress continues; otherwise it starts fresh.
   */
  constructor(optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    const o = checkOptions('ReduceLROnPlateau', options);
    checkOptionNames(null, 'ReduceLROnPlateau', o, NAMES);
    if (optimizer === null || typeof optimizer !== 'object' || typeof (optimizer as { applyGradients?: unknown }).applyGradients !== 'function') {
      throw new TypeError(`ReduceLROnPlateau: optimizer must be a wasm-optim Optimizer, got ${describeValue(optimizer)}`);
    }
    const monitor: unknown = o.monitor ?? 'val_loss';
    if (typeof monitor !== 'string' || monitor === '') throw new TypeError(`ReduceLROnPlateau: monitor must be a non-empty string, got ${describeValue(monitor)}`);
    const mode: unknown = o.mode ?? 'auto';
    if (mode !== 'auto' && mode !== 'min' && mode !== 'max') throw new TypeError(`ReduceLROnPlateau: mode must be 'auto', 'min' or 'max', got ${describeValue(mode)}`);
    this.monitor = monitor;
    this.mode = mode === 'auto' ? (monitor.includes('acc') ? 'max' : 'min') : mode;
    this.factor = checkNumber('ReduceLROnPlateau: factor', o.factor ?? 0.1, { min: 0, max: 1, maxExclusive: true });
    this.patience = checkNumber('ReduceLROnPlateau: patience', o.patience ?? 10, { min: 0, integer: true });
    this.minDelta = checkNumber('ReduceLROnPlateau: minDelta', o.minDelta ?? 1e-4, {});
    this.cooldown = checkNumber('ReduceLROnPlateau: cooldown', o.cooldown ?? 0, { min: 0, integer: true });
    this.minLr = checkNumber('ReduceLROnPlateau: minLr', o.minLr ?? 0, { min: 0, float32: true });
    this.target = learningRateOwner(optimizer);
    if (!plateauOf(this.target)) setPlateau(this.target, { scale: 1, best: this.mode === 'min' ? Infinity : -Infinity, wait: 0, cooldown: 0 });
  }

  /** The progress so far (a copy). */
  get state(): PlateauState {
    return { ...(plateauOf(this.target) as PlateauState) };
  }

  /**
   * One epoch's (or evaluation's) value of the monitored metric. Reduces the learning rate when it
   * has not improved for `patience` updates (Keras' rule); returns true when it did.
   */
  update(value: number): boolean {
    if (typeof value !== 'number') throw new TypeError(`ReduceLROnPlateau.update: value must be a number, got ${describeValue(value)}`);
    const s = plateauOf(this.target) ?? { scale: 1, best: this.mode === 'min' ? Infinity : -Infinity, wait: 0, cooldown: 0 };
    const next = { ...s };
    if (next.cooldown > 0) {
      next.cooldown--;
      next.wait = 0;
    }
    const improved = this.mode === 'min' ? value < next.best - this.minDelta : value > next.best + this.minDelta;
    let reduced = false;
    if (improved) {
      next.best = value;
      next.wait = 0;
    } else if (next.cooldown === 0) {
      next.wait++;
      if (next.wait >= this.patience) {
        // Keras: old = the rate now (float32); if above minLr, new = max(old * factor, minLr).
        const old = this.target.learningRate;
        if (old > Math.fround(this.minLr)) {
          const lr = Math.max(old * this.factor, this.minLr);
          next.scale = old > 0 ? (next.scale * lr) / old : next.scale;
          reduced = true;
        }
        next.cooldown = this.cooldown;
        next.wait = 0;
      }
    }
    setPlateau(this.target, next);
    return reduced;
  }
}
