// State save and restore: getState's copy, setState's exact restore (checked whole before the
// first write) and the deferred restore by name of a fresh optimizer. Internal.
import { copyStateEntry, restoreInto, stateEntryOf } from '../quantized-slot.js';
import { snapshotState, type StateEntries } from '../state-input.js';
import { type Variable } from '../variable.js';
import { type Core, setPlateauState } from './core.js';
import { checkVariables, register, unregister, unregistered } from './registration.js';
import { type OptimizerState } from './types.js';

/** See Optimizer.getState. */
export function getState(c: Core): OptimizerState {
  c.overridable.releaseDisposed();
  const variables: OptimizerState['variables'] = {};
  for (const v of c.own) {
    if (Object.prototype.hasOwnProperty.call(variables, v.name)) {
      throw new Error(`getState: two optimizer variables are named '${v.name}': give the model variables unique names`);
    }
    variables[v.name] = stateEntryOf(v);
  }
  if (c.pending) for (const [name, e] of c.pending) variables[name] ??= copyStateEntry(e);
  const state: OptimizerState = { className: c.host.getClassName(), iterations: c.rawIterations, variables };
  if (c.plateau) state.plateau = { ...c.plateau };
  return state;
}

/** See Optimizer.setState. */
export function setState(c: Core, state: OptimizerState, variables?: readonly Variable[]): void {
  const where = `${c.host.getClassName()}.setState`;
  const snap = snapshotState(state, where, c.host.getClassName());
  const vars = variables === undefined ? undefined : checkVariables(c, 'prepare', variables);
  if ((vars === undefined || vars.length === 0) && !c.everBuilt) {
    c.pending = null;
    c.overridable.restoreEntries(snap.entries);
    c.rawIterations = snap.iterations;
    setPlateauState(c, snap.plateau);
    return;
  }
  c.overridable.releaseDisposed(); // before the rollback marks below are taken
  const before = c.own.length;
  const beforeRecords = c.all.length;
  const pending = c.pending;
  c.pending = null; // an exact restore replaces a deferred one
  try {
    if (vars !== undefined) register(c, unregistered(c, vars));
    const byName = new Map(c.own.map((v) => [v.name, v]));
    for (const [name, entry] of snap.entries) {
      const v = byName.get(name);
      if (!v) throw new Error(`${where}: the state has '${name}', which this optimizer does not have`);
      if (entry.shape.join() !== v.shape.join() || entry.shape.length !== v.shape.length) {
        throw new Error(`${where}: '${name}' has shape ${JSON.stringify(entry.shape)} in the state, ${JSON.stringify(v.shape)} here`);
      }
    }
    for (const v of c.own) {
      if (!snap.entries.has(v.name)) throw new Error(`${where}: the state lacks '${v.name}'`);
    }
  } catch (e) {
    unregister(c, beforeRecords, before);
    c.pending = pending;
    throw e;
  }
  for (const v of c.own) restoreInto(v, snap.entries.get(v.name) as { values: Float32Array });
  c.rawIterations = snap.iterations;
  setPlateauState(c, snap.plateau);
}

/** See Optimizer.restoreEntries (the base implementation). */
export function restoreEntries(c: Core, entries: StateEntries): void {
  const byName = new Map(c.own.map((v) => [v.name, v]));
  for (const [name, e] of entries) {
    const v = byName.get(name);
    if (v && (e.shape.length !== v.shape.length || e.shape.join() !== v.shape.join())) {
      throw new Error(`${c.host.getClassName()}: the restored state has '${name}' with shape ${JSON.stringify(e.shape)}, here it has shape ${JSON.stringify(v.shape)}`);
    }
  }
  for (const [name, e] of entries) {
    const v = byName.get(name);
    if (v) restoreInto(v, e);
    else (c.pending ??= new Map()).set(name, e);
  }
}

/** A decoded checkpoint as setState's argument. */
export function stateOf(s: Omit<OptimizerState, 'plateau'> & { plateau?: OptimizerState['plateau'] | null }): OptimizerState {
  return { className: s.className, iterations: s.iterations, variables: s.variables, ...(s.plateau ? { plateau: s.plateau } : {}) };
}
