// Which optimizer a variable goes to, by its name (Keras 3.15's OptimizerMap, keras/src/optimizers/
// multi_optimizer.py): an exact key first, else every key as a regular expression that must match
// the whole name; more than one match is an error; no match goes to the default optimizer.
import { Optimizer } from '../optimizer.js';
import { type Config, deserialize, isSerializedObject, type SerializedObject } from '../registry.js';
import { describeValue } from '../validate.js';
import { LossScaleOptimizer } from './loss-scale-optimizer.js';

/** Marks MultiOptimizer, which cannot run inside a MultiOptimizer (it imports this module). */
export const NOT_NESTABLE: unique symbol = Symbol('wasm-optim: not nestable in a MultiOptimizer');

/** Throws unless `optimizer` may be routed to by a MultiOptimizer; `what` names it in the message. */
export function checkRoutable(where: string, what: string, optimizer: unknown): Optimizer {
  if (!(optimizer instanceof Optimizer)) throw new TypeError(`${where}: ${what} must be an Optimizer, got ${describeValue(optimizer)}`);
  const kind = optimizer.getClassName();
  if (optimizer instanceof LossScaleOptimizer || (optimizer as { [NOT_NESTABLE]?: boolean })[NOT_NESTABLE] === true) {
    const hint = kind === 'LossScaleOptimizer' ? ' (give the MultiOptimizer lossScaleFactor instead)' : '';
    throw new TypeError(`${where}: ${what} is a ${kind}, which cannot be used inside a MultiOptimizer, as in Keras${hint}`);
  }
  if (optimizer.disposed) throw new Error(`${where}: ${what} (${kind}) was disposed`);
  return optimizer;
}

interface Entry {
  readonly optimizer: Optimizer;
  /** The key as a whole-name match: `^(?:key)$`. */
  readonly pattern: RegExp;
}

/**
 * Maps variable names to optimizers. Keys are exact variable names or regular expressions (JavaScript
 * syntax) that must match the whole name: `'encoder/.*'` covers everything under `encoder/`, while
 * `'encoder'` matches only a variable named `encoder`. An exact key wins over patterns; a name that
 * two patterns match is an error naming the variable and the keys; a name that none matches goes to
 * `defaultOptimizer`. Keys are set once (as in Keras); a key that is not a valid regular expression
 * is refused when set. The same optimizer may serve several keys.
 */
export class OptimizerMap {
  static readonly className: string = 'OptimizerMap';
  readonly defaultOptimizer: Optimizer;
  private readonly entries = new Map<string, Entry>();

  constructor(defaultOptimizer: Optimizer, optimizerMap: Readonly<Record<string, Optimizer>> = {}) {
    this.defaultOptimizer = checkRoutable('OptimizerMap', 'defaultOptimizer', defaultOptimizer);
    const raw: unknown = optimizerMap;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Map) {
      throw new TypeError(`OptimizerMap: optimizerMap must be an object of { key: optimizer }, got ${describeValue(raw)}`);
    }
    // Read once (each value one get), checked, then inserted: a refused map leaves nothing behind.
    const keys = Object.keys(raw);
    const values = keys.map((k) => (raw as Record<string, unknown>)[k]);
    const checked = keys.map((k, i) => this.entryFor(k, values[i]));
    keys.forEach((k, i) => this.entries.set(k, checked[i]));
  }

  /** Maps `key` (an exact variable name or a whole-name pattern) to `optimizer`. Returns the map. */
  set(key: string, optimizer: Optimizer): this {
    if (typeof key !== 'string') throw new TypeError(`OptimizerMap: key must be a string, got ${describeValue(key)}`);
    const entry = this.entryFor(key, optimizer);
    this.entries.set(key, entry);
    return this;
  }

  /** The optimizer mapped to `key` itself (no pattern matching), or undefined. */
  getKey(key: string): Optimizer | undefined {
    return this.entries.get(key)?.optimizer;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The keys, in the order they were set. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The optimizer for a variable named `name`: the exact key's, else the one pattern that matches
   * the whole name, else `defaultOptimizer`. Two matching patterns: an Error naming both keys.
   */
  get(name: string): Optimizer {
    if (typeof name !== 'string') throw new TypeError(`OptimizerMap.get: name must be a string, got ${describeValue(name)}`);
    const exact = this.entries.get(name);
    if (exact) return exact.optimizer;
    let found: string | null = null;
    let also: string[] | null = null;
    for (const [key, e] of this.entries) {
      if (!e.pattern.test(name)) continue;
      if (found === null) found = key;
      else (also ??= []).push(key);
    }
    if (also !== null) {
      const keys = [found as string, ...also].map((k) => `'${k}'`).join(', ');
      throw new Error(`OptimizerMap: variable '${name}' matches more than one key: ${keys}; make the patterns exclusive or add its exact name as a key`);
    }
    return found === null ? this.defaultOptimizer : (this.entries.get(found) as Entry).optimizer;
  }

  /**
   * Every distinct optimizer, in Keras' order: the mapped ones in the order their keys were first
   * set, then the default unless a key maps to it already.
   */
  get optimizers(): Optimizer[] {
    const out: Optimizer[] = [];
    for (const e of this.entries.values()) if (!out.includes(e.optimizer)) out.push(e.optimizer);
    if (!out.includes(this.defaultOptimizer)) out.push(this.defaultOptimizer);
    return out;
  }

  /**
   * `{ optimizers, defaultOptimizer, optimizerMap }`: each distinct optimizer once (so one shared by
   * several keys stays one after fromConfig), the default and each key as an index into that list,
   * the keys as [key, index] pairs in the order they were set.
   */
  getConfig(): Config {
    const list = this.optimizers;
    return {
      optimizers: list.map((o) => ({ className: o.getClassName(), config: o.getConfig() })),
      defaultOptimizer: list.indexOf(this.defaultOptimizer),
      optimizerMap: [...this.entries].map(([k, e]) => [k, list.indexOf(e.optimizer)]),
    };
  }

  static fromConfig(config: Config): OptimizerMap {
    const where = 'OptimizerMap.fromConfig';
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new TypeError(`${where}: config must be an object`);
    const { optimizers, defaultOptimizer, optimizerMap } = config;
    if (!Array.isArray(optimizers) || !optimizers.every((o) => isSerializedObject(o))) {
      throw new TypeError(`${where}: config.optimizers must be an array of { className, config }`);
    }
    const index = (i: unknown, what: string): number => {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= optimizers.length) {
        throw new RangeError(`${where}: ${what} must be an index into config.optimizers (0 to ${optimizers.length - 1}), got ${describeValue(i)}`);
      }
      return i;
    };
    const d = index(defaultOptimizer, 'config.defaultOptimizer');
    if (!Array.isArray(optimizerMap) || !optimizerMap.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string')) {
      throw new TypeError(`${where}: config.optimizerMap must be an array of [key, index] pairs`);
    }
    const pairs = optimizerMap as [string, unknown][];
    const slots = pairs.map(([k, i]) => index(i, `the index of key '${k}'`));
    const built = (optimizers as unknown as SerializedObject[]).map((o) => deserialize(o, 'optimizer') as Optimizer);
    const map = new OptimizerMap(built[d]);
    pairs.forEach(([k], j) => map.set(k, built[slots[j]]));
    return map;
  }

  private entryFor(key: string, optimizer: unknown): Entry {
    if (this.entries.has(key)) {
      throw new Error(`OptimizerMap: key '${key}' is already mapped; each key is set once, as in Keras`);
    }
    const o = checkRoutable('OptimizerMap', `the optimizer for '${key}'`, optimizer);
    let pattern: RegExp;
    try {
      new RegExp(key); // alone first: a key such as 'a)(b' must not pass once wrapped
      pattern = new RegExp(`^(?:${key})$`);
    } catch (e) {
      throw new SyntaxError(`OptimizerMap: key '${key}' is not a valid regular expression (${(e as Error).message}); escape the special characters of an exact name`);
    }
    return { optimizer: o, pattern };
  }
}
