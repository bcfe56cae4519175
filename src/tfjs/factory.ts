// The class factory: one registered tf.Optimizer class per core optimizer class (toTfjs), and
// fromCore for an instance. Registered with tf.serialization so loadLayersModel rebuilds them.
import * as tf from '@tensorflow/tfjs-core';
import { Optimizer as CoreOptimizer, OptimizerWrapper } from '../index.js';
import { tfjsClassName } from './config.js';
import { TfjsOptimizer } from './optimizer.js';
import { type CoreOptimizerClass } from './types.js';

/** What `toTfjs` returns: a tf.Optimizer class registered with tf.serialization. */
export interface TfjsOptimizerClass<C extends CoreOptimizer = CoreOptimizer, A extends unknown[] = never[]> {
  /** Wraps a fresh core optimizer of exactly this class. */
  new (optimizer: C): TfjsOptimizer<C>;
  /** Builds the core optimizer from the core constructor's arguments (options; a wrapper's inner optimizer and options). */
  new (...args: A): TfjsOptimizer<C>;
  /** The name in saved models: 'wasm-optim.' + the core class name. */
  readonly className: string;
  readonly coreClass: CoreOptimizerClass<C, A>;
}

type AnyCoreClass = CoreOptimizerClass<CoreOptimizer, unknown[]>;
const classes = new Map<AnyCoreClass, TfjsOptimizerClass<CoreOptimizer, unknown[]>>();

/** Builds the core optimizer a generated class's constructor was given, or is to wrap. */
function coreFromArgs(coreClass: AnyCoreClass, name: string, args: unknown[]): CoreOptimizer {
  const first = args[0];
  if (first instanceof coreClass) {
    if (first.constructor !== coreClass) throw new TypeError(`${name}: expected a ${coreClass.className}, got a ${first.getClassName()}; use fromCore()`);
    if (args.length > 1) throw new TypeError(`${name}: give either a ${coreClass.className} to wrap or constructor arguments, not both`);
    return first;
  }
  // Only wrappers (Lookahead, SWA, LossScaleOptimizer, ...) take an optimizer first; an options-only
  // constructor (no required parameter) would read an optimizer's fields as options.
  if (first instanceof CoreOptimizer && !(coreClass.prototype instanceof OptimizerWrapper) && coreClass.length === 0) {
    throw new TypeError(`${name}: expected ${coreClass.className} options, got a ${first.getClassName()} optimizer; use fromCore() to wrap it`);
  }
  return new coreClass(...args);
}

/**
 * The tf.Optimizer class for a core optimizer class, registered with tf.serialization so that
 * `loadLayersModel` can rebuild it (under 'wasm-optim.<className>'). This is how a user's own
 * subclass of the core `Optimizer` becomes a tfjs optimizer. Cached: one class per core class.
 */
export function toTfjs<C extends CoreOptimizer, A extends unknown[]>(coreClass: CoreOptimizerClass<C, A>): TfjsOptimizerClass<C, A> {
  const key = coreClass as unknown as AnyCoreClass;
  const cached = classes.get(key);
  if (cached) return cached as unknown as TfjsOptimizerClass<C, A>;
  if (typeof coreClass !== 'function' || !(coreClass.prototype instanceof CoreOptimizer)) {
    throw new TypeError('toTfjs: expected a subclass of the wasm-optim Optimizer class');
  }
  const className: unknown = Object.prototype.hasOwnProperty.call(coreClass, 'className') ? coreClass.className : undefined; // read once
  if (typeof className !== 'string' || className === '') {
    throw new TypeError(`toTfjs: ${coreClass.name || 'the class'} needs its own static className (it is the name saved models use)`);
  }
  if (typeof coreClass.fromConfig !== 'function') throw new TypeError(`toTfjs: ${className} needs a static fromConfig`);
  const name = tfjsClassName(className);
  // Registering under a name another class holds would make saved models of that class load as this one.
  for (const [other, generated] of classes) {
    if (generated.className === name && other !== key) {
      throw new Error(`toTfjs: className '${className}' is already used by another optimizer class; give ${coreClass.name || 'your class'} its own static className`);
    }
  }
  const Generated = class extends TfjsOptimizer<C> {
    static override get className(): string {
      return name;
    }

    static get coreClass(): CoreOptimizerClass<C, A> {
      return coreClass;
    }

    constructor(...args: unknown[]) {
      super(coreFromArgs(key, name, args) as C);
    }
  };
  tf.serialization.registerClass(Generated);
  const cls = Generated as unknown as TfjsOptimizerClass<C, A>;
  classes.set(key, cls as unknown as TfjsOptimizerClass<CoreOptimizer, unknown[]>);
  return cls;
}

/** A tf.Optimizer running `optimizer`: a fresh instance of any core optimizer class, a user's subclass included. */
export function fromCore<C extends CoreOptimizer>(optimizer: C): TfjsOptimizer<C> {
  if (!(optimizer instanceof CoreOptimizer)) throw new TypeError('fromCore: expected a wasm-optim Optimizer instance');
  const cls = toTfjs(optimizer.constructor as unknown as CoreOptimizerClass<C, unknown[]>);
  return new cls(optimizer);
}
