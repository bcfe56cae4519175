// Types of the tfjs entry shared by its modules (the class, its factory, weights and binding).
import type * as tf from '@tensorflow/tfjs-core';
import { type Config, type Optimizer as CoreOptimizer } from '../index.js';

/** `{ name, tensor }`, as tf.Optimizer's getWeights/setWeights use. */
export type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/** How an optimizer reaches the weights: in place in the wasm heap, or by copies (cpu: through its live arrays). */
export type TfjsBindingMode = 'zero-copy' | 'cpu' | 'copy';

/** A core optimizer class usable with `toTfjs` (a subclass of the core `Optimizer` with its own `className`). */
export interface CoreOptimizerClass<C extends CoreOptimizer = CoreOptimizer, A extends unknown[] = never[]> {
  new (...args: A): C;
  readonly className: string;
  /** The core's static fromConfig (typed loosely: it is generic over `this` in the core). */
  fromConfig(config: Config): CoreOptimizer;
}
