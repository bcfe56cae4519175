// setState's input, read once: a caller's state object may have getters, Proxies or views of wasm
// memory that an allocation detaches, so every field is read exactly once into a private copy
// that is checked before the optimizer builds or writes anything.
import { type QuantizedState, quantizedEntry, readQuantized } from './int8-code.js';
import { isFloat32Array } from './typed.js';
import { checkNumber, describeValue } from './validate.js';

/**
 * State entries by name: shape and a private copy of the values, and for an 8-bit slot its exact
 * codes and absmax (docs/int8-state.md).
 */
export type StateEntries = Map<string, { shape: readonly number[]; values: Float32Array; quantized?: QuantizedState }>;

/** What ReduceLROnPlateau keeps in the optimizer (and so in its checkpoints). */
export interface PlateauState {
  /** The factor the learning rate (constant or schedule) is multiplied by. */
  scale: number;
  /** The best monitored value so far (±Infinity before the first). */
  best: number;
  /** Updates since the last improvement. */
  wait: number;
  /** Updates left in the cooldown after a reduction. */
  cooldown: number;
}

export interface StateInput {
  iterations: number;
  entries: StateEntries;
  plateau: PlateauState | null;
}


export function snapshotState(state: unknown, where: string, className: string): StateInput {
  if (state === null || typeof state !== 'object') {
    throw new TypeError(`${where}: state must be an object with className, iterations and variables`);
  }
  const s = state as { className?: unknown; iterations?: unknown; variables?: unknown; plateau?: unknown };
  const cls = s.className;
  const iterations = s.iterations;
  const variables = s.variables;
  const plateau = s.plateau;
  if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) {
    throw new TypeError(`${where}: state must be an object with className, iterations and variables`);
  }
  if (cls !== className) throw new Error(`${where}: the state belongs to a ${String(cls)}, not a ${className}`);
  checkNumber(`${where}: state.iterations`, iterations, { min: 0, integer: true });
  const entries: StateEntries = new Map();
  for (const name of Object.keys(variables)) {
    const entry: unknown = (variables as Record<string, unknown>)[name];
    if (entry === null || typeof entry !== 'object') {
      throw new TypeError(`${where}: '${name}' must be an object with shape and values, got ${describeValue(entry)}`);
    }
    const rawShape: unknown = (entry as { shape?: unknown }).shape;
    const rawQuantized: unknown = (entry as { quantized?: unknown }).quantized;
    const shape = readShape(rawShape, name, where);
    const size = shape.reduce((a, b) => a * b, 1);
    if (rawQuantized !== undefined) {
      // An 8-bit slot's exact state: its `values` (the dequantized copy) are not read.
      entries.set(name, quantizedEntry(shape, readQuantized(rawQuantized, size, name, where)));
      continue;
    }
    const values = readValues((entry as { values?: unknown }).values, name, where);
    if (values.length !== size) throw new Error(`${where}: '${name}' has ${values.length} values, expected ${size}`);
    entries.set(name, { shape, values });
  }
  return { iterations: iterations as number, entries, plateau: plateau === undefined ? null : readPlateau(plateau, where) };
}

/** A ReduceLROnPlateau state, read once and checked. */
export function readPlateau(raw: unknown, where: string): PlateauState {
  if (raw === null || typeof raw !== 'object') throw new TypeError(`${where}: plateau must be { scale, best, wait, cooldown }, got ${describeValue(raw)}`);
  const r = raw as Record<string, unknown>;
  const scale = r.scale;
  const best = r.best;
  const wait = r.wait;
  const cooldown = r.cooldown;
  checkNumber(`${where}: plateau.scale`, scale, { min: 0, minExclusive: true });
  if (typeof best !== 'number' || Number.isNaN(best)) throw new TypeError(`${where}: plateau.best must be a number (±Infinity before the first update), got ${describeValue(best)}`);
  checkNumber(`${where}: plateau.wait`, wait, { min: 0, integer: true });
  checkNumber(`${where}: plateau.cooldown`, cooldown, { min: 0, integer: true });
  return { scale: scale as number, best, wait: wait as number, cooldown: cooldown as number };
}

function readShape(raw: unknown, name: string, where: string): readonly number[] {
  const bad = (): never => {
    throw new Error(`${where}: '${name}' has shape ${JSON.stringify(raw)} in the state; expected an array of positive integers`);
  };
  if (!Array.isArray(raw)) return bad();
  const n = raw.length;
  const shape: number[] = [];
  for (let i = 0; i < n; i++) {
    const d: unknown = raw[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) bad();
    shape.push(d as number);
  }
  return Object.freeze(shape);
}

function readValues(raw: unknown, name: string, where: string): Float32Array {
  // The engine's own length and data: a subclass's getters are not consulted.
  if (isFloat32Array(raw)) return new Float32Array(raw); // copies by the internal length, not raw.length
  if (!Array.isArray(raw)) throw new TypeError(`${where}: values of '${name}' must be a Float32Array or an array of numbers`);
  const n = raw.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x: unknown = raw[i];
    if (typeof x !== 'number') throw new TypeError(`${where}: values of '${name}' must be numbers: values[${i}] is ${describeValue(x)}`);
    if (Number.isFinite(x) && !Number.isFinite(Math.fround(x))) {
      throw new RangeError(`${where}: values of '${name}': values[${i}] = ${x} overflows float32`);
    }
    out[i] = x;
  }
  return out;
}
