// wasm-optim/tfjs: every wasm-optim optimizer as a tf.Optimizer (model.compile / fit / minimize /
// save / load), zero-copy on the tfjs wasm backend. @tensorflow/tfjs-core is a peer dependency of
// this entry only; the core entry never imports it.
import * as core from '../index.js';
import { factoryName } from './config.js';
import { type TfjsOptimizerClass, toTfjs } from './factory.js';
import { type TfjsOptimizer } from './optimizer.js';
import { type CoreOptimizerClass } from './types.js';
import { callbacks as kerasCallbacks } from './callbacks.js';
import { scheduleFree } from './schedule-free-callback.js';

/** `optim.callbacks.*`: model.fit callbacks bound to a wasm-optim/tfjs optimizer. */
export const callbacks = Object.freeze({ ...kerasCallbacks, scheduleFree });

export { ready, isReady } from '../index.js';
export {
  learningRateScheduler,
  learningRateLogger,
  reduceLROnPlateau,
  type FitCallback,
  type FitLogs,
  type EpochSchedule,
  type ReduceLROnPlateauCallback,
} from './callbacks.js';
export { scheduleFree, type ScheduleFreeCallback } from './schedule-free-callback.js';
export { TfjsOptimizer } from './optimizer.js';
export { toTfjs, fromCore, type TfjsOptimizerClass } from './factory.js';
export { setZeroCopyEnabled } from './binding.js';
export { type CoreOptimizerClass, type TfjsBindingMode, type NamedTensor } from './types.js';

/** A factory like `tf.train.adam`: the core constructor's arguments in, a tf.Optimizer out. */
export type TfjsOptimizerFactory<C extends core.Optimizer = core.Optimizer, A extends unknown[] = unknown[]> = ((...args: A) => TfjsOptimizer<C>) & {
  /** The registered tf.Optimizer class it instantiates (`.coreClass` is the core class). */
  readonly tfjsClass: TfjsOptimizerClass<C, A>;
};

/** One positional argument of a `tf.train.*` factory and what it maps to. */
interface PositionalArg {
  /** tf.train's name for it. */
  readonly name: string;
  /** Our option of the same meaning, or null: no equivalent, so only tf.train's default is accepted. */
  readonly option: string | null;
  /**
   * tf.train's default: a missing argument means it. `null` (epsilon: the backend's, 1e-7 for
   * float32) and `undefined` (required) leave the core's default, which is the same value.
   */
  readonly tfDefault?: number | boolean | null;
  readonly required?: boolean;
  /** Why a non-default value of an argument without equivalent is refused, and what to use. */
  readonly instead?: string;
}

/**
 * tf.train's positional form of a factory, mapped to the core's options. The signatures are
 * tfjs-core 4.22's OptimizerConstructors; the meanings agree with our Keras optimizers (tested
 * against tf.train on the same gradients), except where the docs say otherwise (Adam's epsilon).
 */
function positional(where: string, spec: readonly PositionalArg[], args: readonly unknown[]): Record<string, unknown> {
  const signature = `${where}(${spec.map((a) => (a.required ? a.name : `${a.name}?`)).join(', ')})`;
  if (args.length > spec.length) {
    throw new TypeError(`${signature}: tf.train's form takes at most ${spec.length} argument${spec.length > 1 ? 's' : ''}, got ${args.length}`);
  }
  const options: Record<string, unknown> = {};
  spec.forEach((a, i) => {
    const value = i < args.length ? args[i] : undefined;
    if (value === undefined && a.required) throw new TypeError(`${signature}: ${a.name} is required, as in tf.train.${where}`);
    if (a.option === null) {
      if (value !== undefined && value !== a.tfDefault) {
        throw new RangeError(`${signature}: ${a.name} has no equivalent in wasm-optim (Keras semantics); only ${String(a.tfDefault)} is accepted, got ${String(value)}. ${a.instead ?? ''}`.trimEnd());
      }
      return;
    }
    const v = value === undefined ? a.tfDefault : value;
    // null epsilon means the backend's epsilon in tf.train: 1e-7 on float32 backends, the core's default too.
    if (v === undefined || (v === null && a.tfDefault === null)) return;
    options[a.option] = v;
  });
  return options;
}

/** tf.train's positional arguments are used when the first argument is a number (or undefined with more after it). */
const isPositional = (args: readonly unknown[]): boolean => typeof args[0] === 'number' || (args.length > 1 && args[0] === undefined);

const LR = (tfDefault?: number): PositionalArg => ({ name: 'learningRate', option: 'learningRate', tfDefault, required: tfDefault === undefined });

/** The `tf.train.*` signatures (tfjs-core 4.22 optimizer_constructors.d.ts). */
const TF_TRAIN = {
  sgd: [LR()],
  momentum: [LR(), { name: 'momentum', option: 'momentum', required: true }, { name: 'useNesterov', option: 'nesterov', tfDefault: false }],
  rmsprop: [
    LR(),
    { name: 'decay', option: 'rho', tfDefault: 0.9 },
    { name: 'momentum', option: 'momentum', tfDefault: 0 },
    { name: 'epsilon', option: 'epsilon', tfDefault: null },
    { name: 'centered', option: 'centered', tfDefault: false },
  ],
  adam: [LR(0.001), { name: 'beta1', option: 'beta1', tfDefault: 0.9 }, { name: 'beta2', option: 'beta2', tfDefault: 0.999 }, { name: 'epsilon', option: 'epsilon', tfDefault: null }],
  adamax: [
    LR(0.002),
    { name: 'beta1', option: 'beta1', tfDefault: 0.9 },
    { name: 'beta2', option: 'beta2', tfDefault: 0.999 },
    { name: 'epsilon', option: 'epsilon', tfDefault: null },
    { name: 'decay', option: null, tfDefault: 0, instead: 'For a decaying learning rate pass a schedule: adamax({ learningRate: new InverseTimeDecay({ ... }) }).' },
  ],
  adagrad: [LR(), { name: 'initialAccumulatorValue', option: 'initialAccumulatorValue', tfDefault: 0.1 }],
  adadelta: [LR(0.001), { name: 'rho', option: 'rho', tfDefault: 0.95 }, { name: 'epsilon', option: 'epsilon', tfDefault: null }],
} as const satisfies Record<string, readonly PositionalArg[]>;

/**
 * Makes an uncalled factory given where an optimizer is expected (`model.compile({ optimizer:
 * adam })`) fail with a hint: tf.Optimizer's instanceof check reads these three members.
 */
function hintWhenUncalled(f: object, name: string, example: string): void {
  const hint = (): never => {
    throw new TypeError(`wasm-optim/tfjs: ${name} is an optimizer factory, not an optimizer; call it: ${example}`);
  };
  for (const member of ['minimize', 'computeGradients', 'applyGradients']) Object.defineProperty(f, member, { get: hint, enumerable: false });
}

function factory<C extends core.Optimizer, A extends unknown[]>(cls: CoreOptimizerClass<C, A>, name = factoryName(cls.className)): TfjsOptimizerFactory<C, A> {
  const T = toTfjs(cls);
  const tfName = name as keyof typeof TF_TRAIN;
  const spec: readonly PositionalArg[] | undefined = Object.prototype.hasOwnProperty.call(TF_TRAIN, name) ? TF_TRAIN[tfName] : undefined;
  const make = spec
    ? (...args: A) => (isPositional(args) ? new T(...([positional(name, spec, args)] as unknown as A)) : new T(...args))
    : (...args: A) => new T(...args);
  const isWrapper = cls.length > 0;
  hintWhenUncalled(make, name, isWrapper ? `optim.${name}(innerOptimizer, options?)` : spec ? `optim.${name}() or optim.${name}(0.01)` : `optim.${name}() or optim.${name}({ learningRate: 0.01 })`);
  return Object.assign(make, { tfjsClass: T });
}

/** tf.train's positional form, typed: `adam(0.01)`, `momentum(0.1, 0.9, true)`, ... */
type Positional<C extends core.Optimizer, P extends unknown[]> = (...args: P) => TfjsOptimizer<C>;

export const sgd: TfjsOptimizerFactory<core.SGD, [options?: core.SGDOptions]> & Positional<core.SGD, [learningRate: number]> = factory(core.SGD);
/** tf.train.momentum: SGD with momentum (`useNesterov` is `nesterov`); with an options object, the same as `sgd`. */
export const momentum: TfjsOptimizerFactory<core.SGD, [options?: core.SGDOptions]> &
  Positional<core.SGD, [learningRate: number, momentum: number, useNesterov?: boolean]> = factory(core.SGD, 'momentum');
export const adam: TfjsOptimizerFactory<core.Adam, [options?: core.AdamOptions]> &
  Positional<core.Adam, [learningRate?: number, beta1?: number, beta2?: number, epsilon?: number | null]> = factory(core.Adam);
export const adamw = factory(core.AdamW);
export const adamax: TfjsOptimizerFactory<core.Adamax, [options?: core.AdamaxOptions]> &
  Positional<core.Adamax, [learningRate?: number, beta1?: number, beta2?: number, epsilon?: number | null, decay?: 0]> = factory(core.Adamax);
export const nadam = factory(core.Nadam);
export const rmsprop: TfjsOptimizerFactory<core.RMSprop, [options?: core.RMSpropOptions]> &
  Positional<core.RMSprop, [learningRate: number, decay?: number, momentum?: number, epsilon?: number | null, centered?: boolean]> = factory(core.RMSprop);
export const adagrad: TfjsOptimizerFactory<core.Adagrad, [options?: core.AdagradOptions]> &
  Positional<core.Adagrad, [learningRate: number, initialAccumulatorValue?: number]> = factory(core.Adagrad);
export const adadelta: TfjsOptimizerFactory<core.Adadelta, [options?: core.AdadeltaOptions]> &
  Positional<core.Adadelta, [learningRate?: number, rho?: number, epsilon?: number | null]> = factory(core.Adadelta);
export const ftrl = factory(core.Ftrl);
export const lion = factory(core.Lion);
export const lamb = factory(core.Lamb);
export const adafactor = factory(core.Adafactor);
export const lazyAdam = factory(core.LazyAdam);
export const yogi = factory(core.Yogi);
export const radam = factory(core.RAdam);
export const muon = factory(core.Muon);
export const adan = factory(core.Adan);
export const adopt = factory(core.Adopt);
export const ademamix = factory(core.AdEMAMix);
export const prodigy = factory(core.Prodigy);
export const lookahead = factory(core.Lookahead);
export const swa = factory(core.SWA);
export const scheduleFreeAdamW = factory(core.ScheduleFreeAdamW);
export const scheduleFreeSGD = factory(core.ScheduleFreeSGD);
export const lossScaleOptimizer = factory(core.LossScaleOptimizer);
/**
 * A MultiOptimizer: `multiOptimizer(new OptimizerMap(adam, { 'dense_Dense1/.*': sgd }), options?)`
 * (or a router function, or one optimizer). Keys match the tfjs variable names.
 */
export const multiOptimizer: TfjsOptimizerFactory<core.MultiOptimizer, [optimizerMap: core.OptimizerMap | core.OptimizerRouter | core.Optimizer, options?: core.MultiOptimizerOptions]> =
  factory(core.MultiOptimizer);

/**
 * Every factory, named like `tf.train.*` (`train.sgd`, `train.momentum`, `train.adamw`,
 * `train.lazyAdam`, `train.lookahead`, ...): exactly these keys, so a misspelt name is a type error
 * (and `undefined` in JavaScript). A test checks that every optimizer class the package exports
 * and registers has its factory here.
 */
export const train = Object.freeze({
  sgd,
  momentum,
  adam,
  adamw,
  adamax,
  nadam,
  rmsprop,
  adagrad,
  adadelta,
  ftrl,
  lion,
  lamb,
  adafactor,
  lazyAdam,
  yogi,
  radam,
  muon,
  adan,
  adopt,
  ademamix,
  prodigy,
  lookahead,
  swa,
  scheduleFreeAdamW,
  scheduleFreeSGD,
  lossScaleOptimizer,
  multiOptimizer,
});
