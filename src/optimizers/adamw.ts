import { registerClass } from '../registry.js';
import { checkOptions } from '../validate.js';
import { Adam, type AdamOptions } from './adam.js';

export interface AdamWOptions extends AdamOptions {
  /** Default 0.004 (Keras 3); decoupled: w -= w * weightDecay * lr before the Adam step. */
  weightDecay?: number;
}

/** AdamW: Adam with decoupled weight decay on by default (the base class applies the decay). */
export class AdamW extends Adam {
  static override readonly className: string = 'AdamW';

  constructor(options: AdamWOptions = {}) {
    checkOptions('AdamW', options);
    if (options.weightDecay === null) throw new TypeError('AdamW: weightDecay must be a finite number >= 0, got null');
    super({ ...options, weightDecay: options.weightDecay ?? 0.004 });
  }
}
registerClass(AdamW);
