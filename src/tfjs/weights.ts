// Weight import and export: the optimizer's state as tf.Optimizer's `{ name, tensor }` list
// (getWeights/setWeights, model.save/loadLayersModel), and matching saved slots to variables by
// name (allowing for tfjs-layers' renaming of a reloaded model's variables).
import * as tf from '@tensorflow/tfjs-core';
import { INNER_STATE_PREFIX, type OptimizerState } from '../index.js';
import { type PlateauState, readPlateau, type StateEntries } from '../state-input.js';
import { canonicalName } from './config.js';
import { type NamedTensor } from './types.js';

/** Saved slots by name, as setWeights copied them. */
export type SavedSlots = Map<string, { shape: number[]; values: Float32Array }>;

/**
 * `[iter, plateau?, ...every state variable]` as new tensors: the core's state, except the entries
 * `pending` overrides (set by setWeights, not yet applied: the saved value wins), then `pending`'s.
 */
export function exportWeights(state: OptimizerState, pending: SavedSlots | null): NamedTensor[] {
  const out: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(state.iterations, 'int32') }];
  if (state.plateau) out.push({ name: PLATEAU, tensor: tf.tensor1d(encodePlateau(state.plateau), 'int32') });
  for (const name of Object.keys(state.variables)) {
    if (pending?.has(name)) continue;
    const { shape, values } = state.variables[name];
    out.push({ name, tensor: tf.tensor(Float32Array.from(values), shape, 'float32') });
  }
  if (pending) {
    for (const [name, p] of pending) out.push({ name, tensor: tf.tensor(p.values.slice(), p.shape, 'float32') });
  }
  return out;
}

/** Reads and checks getWeights() output (each element once, before the first await), copying the values. */
export async function readWeights(where: string, weightValues: unknown): Promise<{ iterations: number; slots: SavedSlots; plateau: PlateauState | undefined }> {
  if (!Array.isArray(weightValues) || weightValues.length === 0) {
    throw new TypeError(`${where}: expected [{ name: 'iter', tensor }, ...{ name, tensor }] as getWeights() returns`);
  }
  // Every element's name and tensor are read once, before the first await (user code may run there).
  const count = weightValues.length;
  const items: { name: string; tensor: tf.Tensor }[] = [];
  for (let i = 0; i < count; i++) {
    const w: unknown = weightValues[i];
    const name: unknown = w !== null && typeof w === 'object' ? (w as NamedTensor).name : undefined;
    const tensor: unknown = w !== null && typeof w === 'object' ? (w as NamedTensor).tensor : undefined;
    if (typeof name !== 'string' || name === '' || !(tensor instanceof tf.Tensor)) {
      throw new TypeError(`${where}: weightValues[${i}] must be { name, tensor } with a non-empty name and a tf.Tensor`);
    }
    items.push({ name, tensor });
  }
  const read = async (i: number): Promise<{ name: string; tensor: tf.Tensor; values: tf.TypedArray }> => {
    const { name, tensor } = items[i];
    if (tensor.isDisposed) throw new Error(`${where}: the tensor of '${name}' was already disposed`);
    return { name, tensor, values: (await tensor.data()) as tf.TypedArray };
  };
  const iter = await read(0);
  const iterations = iter.values.length === 1 ? iter.values[0] : NaN; // int32 as saved: exact beyond 2^24
  if (iter.name !== 'iter' || !Number.isInteger(iterations) || iterations < 0) {
    throw new TypeError(`${where}: weightValues[0] must be the iteration count { name: 'iter', tensor: scalar int >= 0 }, got '${iter.name}'`);
  }
  const slots: SavedSlots = new Map();
  let plateau: PlateauState | undefined;
  for (let i = 1; i < count; i++) {
    const w = await read(i);
    if (w.name === PLATEAU) {
      if (plateau !== undefined) throw new Error(`${where}: the name '${w.name}' appears twice`);
      plateau = decodePlateau(w.tensor.dtype, w.values, where);
      continue;
    }
    if (w.tensor.dtype !== 'float32') throw new TypeError(`${where}: '${w.name}' has dtype ${w.tensor.dtype}, expected float32`);
    if (w.name === 'iter' || slots.has(w.name)) throw new Error(`${where}: the name '${w.name}' appears twice`);
    slots.set(w.name, { shape: [...w.tensor.shape], values: Float32Array.from(w.values) }); // a copy: the caller disposes
  }
  return { iterations, slots, plateau };
}

/**
 * The saved slots of `pending` that belong to the variables `names`, keyed by their name in this
 * optimizer (by exact name, else without tfjs-layers' '_<k>' suffix), with their saved names; null
 * when none belongs to any of them. Optimizer-wide variables (no '/', e.g. Nadam's u_product) go
 * by their own name once some slot matched.
 */
export function matchSaved(pending: SavedSlots, names: readonly string[]): { entries: StateEntries; saved: Iterable<string> } | null {
  const target = new Map<string, string>(); // saved name -> name in this optimizer
  const owners = new Set<string>();
  for (const key of pending.keys()) {
    const owner = ownerOf(key, names);
    if (owner) {
      target.set(key, owner.key);
      owners.add(owner.name);
    }
  }
  if (owners.size === 0) return null;
  for (const key of pending.keys()) if (!target.has(key) && !key.includes('/')) target.set(key, key);
  const entries: StateEntries = new Map();
  for (const [key, name] of target) entries.set(name, pending.get(key) as { shape: number[]; values: Float32Array });
  return { entries, saved: target.keys() };
}

/**
 * The variable (of `names`) a saved slot name belongs to, and the slot's name for it. A wrapper's
 * state lists its inner optimizer's slots behind INNER_STATE_PREFIX ('inner:<variable>/m').
 */
function ownerOf(saved: string, names: readonly string[]): { name: string; key: string } | null {
  let p = 0;
  while (saved.startsWith(INNER_STATE_PREFIX, p)) p += INNER_STATE_PREFIX.length;
  const prefix = saved.slice(0, p);
  const key = saved.slice(p);
  let exact = '';
  for (const name of names) {
    if (name.length > exact.length && key.length > name.length + 1 && key.startsWith(name) && key[name.length] === '/') exact = name;
  }
  if (exact) return { name: exact, key: saved };
  let found: { name: string; at: number } | null = null;
  for (let at = key.indexOf('/'); at > 0; at = key.indexOf('/', at + 1)) {
    const saved = canonicalName(key.slice(0, at));
    for (const name of names) {
      if (canonicalName(name) !== saved) continue;
      if (found && found.at === at && found.name !== name) {
        throw new Error(`wasm-optim/tfjs: the saved slot '${key}' could belong to '${found.name}' or '${name}'; give the variables distinct names`);
      }
      if (!found || at >= found.at) found = { name, at };
    }
  }
  return found ? { name: found.name, key: prefix + found.name + key.slice(found.at) } : null;
}

// A ReduceLROnPlateau's progress travels with the optimizer weights (model.save / loadLayersModel) as
// one int32 tensor holding the bits of its four float64 numbers: exact, and no '/' in the name, so it
// can never be taken for a '<variable>/<slot>' weight.
const PLATEAU = 'lr_plateau';

function encodePlateau(p: PlateauState): Int32Array {
  return new Int32Array(new Float64Array([p.scale, p.best, p.wait, p.cooldown]).buffer);
}

function decodePlateau(dtype: string, values: tf.TypedArray, where: string): PlateauState {
  if (dtype !== 'int32' || values.length !== 8) {
    throw new TypeError(`${where}: '${PLATEAU}' must be the int32 tensor of 8 values that getWeights() writes, got ${dtype} with ${values.length} values`);
  }
  const [scale, best, wait, cooldown] = new Float64Array(Int32Array.from(values).buffer);
  return readPlateau({ scale, best, wait, cooldown }, where);
}
