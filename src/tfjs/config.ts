// Configs through tfjs-layers' model.save / loadLayersModel. The loader passes the saved optimizer
// config through convertPythonicToTs, which camel-cases every key and every string value that
// contains '_' (except a string under the key 'name'), and adds a `customObjects` key. To round-trip
// any config exactly, '%' and '_' in keys and strings are escaped on the way out and restored on
// the way in; configs without them (every built-in optimizer's) are written unchanged. The loader's
// `customObjects` is the one key dropped on the way in: a config's own top-level key of that name
// is written as 'custom%4Fbjects', so it is never mistaken for the loader's and reaches the core,
// which refuses any key its class does not accept.
import type * as tf from '@tensorflow/tfjs-core';
import { type Config, type ConfigValue } from '../index.js';

type ConfigDict = tf.serialization.ConfigDict;
type ConfigDictValue = tf.serialization.ConfigDictValue;

const escape = (s: string): string => (/[%_]/.test(s) ? s.replace(/%/g, '%25').replace(/_/g, '%5F') : s);
const unescape = (s: string): string => (s.includes('%') ? s.replace(/%5F/g, '_').replace(/%4F/g, 'O').replace(/%25/g, '%') : s);
const LOADER_KEY = 'customObjects';
const ESCAPED_LOADER_KEY = 'custom%4Fbjects';

function mapValue(value: ConfigValue | ConfigDictValue, key: string, f: (s: string) => string): ConfigValue {
  if (typeof value === 'string') return key === 'name' ? value : f(value);
  if (Array.isArray(value)) return value.map((v) => mapValue(v, key, f));
  if (value !== null && typeof value === 'object') {
    const out: Config = {};
    for (const k of Object.keys(value)) out[f(k)] = mapValue((value as Config)[k], k, f);
    return out;
  }
  return value as ConfigValue;
}

/** A core config made safe for tfjs-layers' loader. */
export function encodeConfig(config: Config): ConfigDict {
  const out = mapValue(config, '', escape) as Config;
  if (Object.prototype.hasOwnProperty.call(out, LOADER_KEY)) {
    const { [LOADER_KEY]: own, ...rest } = out;
    return { ...rest, [ESCAPED_LOADER_KEY]: own } as ConfigDict;
  }
  return out as ConfigDict;
}

/** The core config back from `encodeConfig` output (after the loader's treatment). */
export function decodeConfig(config: ConfigDict): Config {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new TypeError('fromConfig: config must be an object');
  }
  const { [LOADER_KEY]: loaders, ...rest } = config as ConfigDict & { customObjects?: unknown };
  void loaders; // added by tfjs-layers' loader, never part of an optimizer's config (see encodeConfig)
  return mapValue(rest, '', unescape) as Config;
}

/** The name a core class is registered under in tfjs' serialization map (never a tfjs built-in's). */
export function tfjsClassName(coreClassName: string): string {
  return `wasm-optim.${escape(coreClassName)}`;
}

/** `tf.train`-style factory name: 'SGD' -> 'sgd', 'AdamW' -> 'adamw', 'RAdam' -> 'radam', 'LazyAdam' -> 'lazyAdam'. */
export function factoryName(className: string): string {
  // The first word (up to a lower-to-Upper boundary followed by lowercase) is lowercased whole.
  const m = /^.*?[a-z0-9](?=[A-Z][a-z])/.exec(className);
  return m ? m[0].toLowerCase() + className.slice(m[0].length) : className.toLowerCase();
}

/** A variable name without the '_<k>' suffix tfjs-layers appends when a name is already taken. */
export const canonicalName = (name: string): string => name.replace(/_\d+$/, '');
