// wasm-optim/tfjs: every wasm-optim optimizer as a tf.Optimizer (model.compile / fit / minimize /
// save / load), zero-copy on the tfjs wasm backend. @tensorflow/tfjs-core is a peer dependency of
// this entry only; the core entry never imports it.
import * as core from '../index.js';
import { factoryName } from './config.js';
import { type CoreOptimizerClass, type TfjsOptimizer, type TfjsOptimizerClass, toTfjs } from './optimizer.js';

export { ready, isReady } from '../index.js';
export {
  TfjsOptimizer,
  toTfjs,
  fromCore,
  setZeroCopyEnabled,
  type TfjsOptimizerClass,
  type CoreOptimizerClass,
  type TfjsBindingMode,
  type NamedTensor,
} from './optimizer.js';

/** A factory like `tf.train.adam`: the core constructor's arguments in, a tf.Optimizer out. */
export type TfjsOptimizerFactory<C extends core.Optimizer = core.Optimizer, A extends unknown[] = unknown[]> = ((...args: A) => TfjsOptimizer<C>) & {
  /** The registered tf.Optimizer class it instantiates (`.coreClass` is the core class). */
  readonly tfjsClass: TfjsOptimizerClass<C, A>;
};

function factory<C extends core.Optimizer, A extends unknown[]>(cls: CoreOptimizerClass<C, A>): TfjsOptimizerFactory<C, A> {
  const T = toTfjs(cls);
  return Object.assign((...args: A) => new T(...args), { tfjsClass: T });
}

const isCoreClass = (x: unknown): x is CoreOptimizerClass<core.Optimizer, unknown[]> =>
  typeof x === 'function' &&
  x.prototype instanceof core.Optimizer &&
  Object.prototype.hasOwnProperty.call(x, 'className') &&
  core.getRegisteredClass((x as unknown as { className: string }).className) === (x as unknown);

/**
 * A factory for every optimizer class the package exports and registers, named like `tf.train.*`
 * (`train.sgd`, `train.adamw`, `train.rmsprop`, `train.lazyAdam`, `train.lookahead`, ...). Built
 * from the core's exports at load time, so optimizers added to the package appear without edits.
 */
export const train: Readonly<Record<string, TfjsOptimizerFactory>> = (() => {
  const out: Record<string, TfjsOptimizerFactory> = {};
  for (const value of Object.values(core) as unknown[]) if (isCoreClass(value)) out[factoryName(value.className)] = factory(value);
  return Object.freeze(out);
})();

// Typed named factories for the optimizers the package has today (`train` has them too, untyped).
export const sgd = factory(core.SGD);
export const adam = factory(core.Adam);
export const adamw = factory(core.AdamW);
export const adamax = factory(core.Adamax);
export const nadam = factory(core.Nadam);
export const rmsprop = factory(core.RMSprop);
export const adagrad = factory(core.Adagrad);
export const adadelta = factory(core.Adadelta);
export const ftrl = factory(core.Ftrl);
export const lion = factory(core.Lion);
export const lamb = factory(core.Lamb);
export const adafactor = factory(core.Adafactor);
export const lazyAdam = factory(core.LazyAdam);
export const yogi = factory(core.Yogi);
export const radam = factory(core.RAdam);
export const lookahead = factory(core.Lookahead);
export const swa = factory(core.SWA);
