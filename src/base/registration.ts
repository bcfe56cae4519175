// Variable registration: a record per model variable, its slots (and EMA average, gradient
// accumulator), rollback of a failed build, release of disposed variables, and state variables
// created from a deferred restore. Internal.
import { type Heap } from '../arena.js';
import { newRecord, type VarRecord } from '../gradients.js';
import { INT8_MIN_SIZE, type QuantKind, type StateDtype } from '../int8-code.js';
import { checkOptionNames } from '../options.js';
import { QuantizedSlot, restoreInto } from '../quantized-slot.js';
import { type StateEntries } from '../state-input.js';
import { checkOptions, checkShape } from '../validate.js';
import { Variable } from '../variable.js';
import { type Core } from './core.js';

export function checkVariable(c: Core, v: unknown, where: string): asserts v is Variable {
  if (!(v instanceof Variable)) throw new TypeError(`${where} must be a Variable`);
  if (v.disposed) throw new Error(`${where}: variable '${v.name}' was disposed`);
  if (c.heap && v.heap !== c.heap) throw new Error(`${where}: variable '${v.name}' lives in another heap than this optimizer's`);
}

/** A checked copy of a variables argument (all Variables, alive, one heap). */
export function checkVariables(c: Core, where: string, variables: unknown): Variable[] {
  if (!Array.isArray(variables)) throw new TypeError(`${where}: variables must be an array of Variables`);
  const vars = [...(variables as unknown[])];
  vars.forEach((v, i) => checkVariable(c, v, `${where}: variables[${i}]`));
  const list = vars as Variable[];
  const heap = c.heap ?? list[0]?.heap;
  list.forEach((v, i) => {
    if (v.heap !== heap) throw new Error(`${where}: variables[${i}]: variable '${v.name}' lives in another heap than variables[0]`);
  });
  return list;
}

/** The variables of `vars` not registered yet, each once. */
export function unregistered(c: Core, vars: readonly Variable[]): Variable[] {
  return vars.filter((v, i) => !c.records.has(v) && vars.indexOf(v) === i);
}

export function recordOf(c: Core, v: Variable): VarRecord {
  const rec = c.records.get(v);
  if (!rec) throw new Error(`${c.host.getClassName()}: variable '${v?.name}' is not built in this optimizer`);
  return rec;
}

function decays(c: Core, v: Variable): boolean {
  return !c.excludedVars.has(v) && !(c.excludedNames?.test(v.name) ?? false);
}

/** Registers the active variables seen for the first time; false (and no allocation) when there are none. */
export function registerNew(c: Core, n: number): boolean {
  let fresh: Variable[] | null = null;
  for (let i = 0; i < n; i++) if (c.active[i] === undefined) (fresh ??= []).push(c.activeVars[i]);
  if (!fresh) return false;
  register(c, fresh);
  for (let i = 0; i < n; i++) c.active[i] ??= c.records.get(c.activeVars[i]) as VarRecord;
  return true;
}

/** Registers variables and builds their slots; if anything throws, everything it made is undone. */
export function register(c: Core, variables: readonly Variable[]): void {
  if (variables.length === 0) return;
  const heap = c.heap ?? variables[0].heap;
  for (const v of variables) {
    if (v.heap !== heap) throw new Error(`${c.host.getClassName()}: variable '${v.name}' lives in another heap`);
  }
  const records = c.all.length;
  const own = c.own.length;
  const everBuilt = c.everBuilt;
  c.generation++;
  c.heap = heap;
  c.everBuilt = true;
  const busy = c.busy;
  c.busy ??= 'build';
  try {
    registerRecords(c, variables);
    c.host.build(variables);
  } catch (e) {
    unregister(c, records, own);
    c.everBuilt = everBuilt;
    throw e;
  } finally {
    c.busy = busy;
  }
  if (c.pending) {
    try {
      checkRestored(c, variables, own);
    } catch (e) {
      unregister(c, records, own);
      c.everBuilt = everBuilt;
      throw e;
    }
    for (let i = own; i < c.own.length; i++) c.pending.delete(c.own[i].name);
    if (c.pending.size === 0) c.pending = null;
  }
  c.restored.clear();
}

/**
 * A variable built from a deferred restore takes all of its state from it or none: a state
 * variable restored next to one that was not, or a restored entry under the variable's name
 * that this optimizer does not make, is an error (the checkpoint does not fit this optimizer).
 */
function checkRestored(c: Core, variables: readonly Variable[], own: number): void {
  const pending = c.pending as StateEntries;
  for (const v of variables) {
    const prefix = `${v.name}/`;
    let restored: string | null = null;
    let fresh: string | null = null;
    for (let i = own; i < c.own.length; i++) {
      const s = c.own[i];
      if (!s.name.startsWith(prefix)) continue;
      if (c.restored.has(s)) restored ??= s.name;
      else fresh ??= s.name;
    }
    if (restored !== null && fresh !== null) {
      throw new Error(`${c.host.getClassName()}: the restored state has '${restored}' but lacks '${fresh}'`);
    }
    if (restored === null) continue;
    for (const name of pending.keys()) {
      if (name.startsWith(prefix) && !c.own.some((s) => s.name === name)) {
        throw new Error(`${c.host.getClassName()}: the restored state has '${name}', which this optimizer does not have`);
      }
    }
  }
}

function registerRecords(c: Core, variables: readonly Variable[]): void {
  for (const v of variables) {
    const rec = newRecord(v, decays(c, v));
    c.records.set(v, rec);
    c.all.push(rec);
    if (c.host.useEma) rec.state.push((rec.avg = newVariable(c, v.heap, v.shape, `${v.name}/average`, 0)));
    if (c.host.gradientAccumulationSteps) rec.state.push((rec.acc = newVariable(c, v.heap, v.shape, `${v.name}/gradient_accumulator`, 0)));
  }
}

/** Drops the records and state variables created after the given counts (rollback and dispose). */
export function unregister(c: Core, records: number, own: number): void {
  c.generation++;
  for (const rec of c.all.splice(records)) {
    c.records.delete(rec.variable);
    rec.grad?.dispose();
    rec.sparse?.dispose();
  }
  for (const v of c.own.splice(own)) v.dispose();
  c.restored.clear();
  if (c.all.length === 0 && c.own.length === 0) c.heap = null;
}

/** Frees the records and state of variables the caller disposed (the base releaseDisposed). */
export function releaseDisposed(c: Core): void {
  let dead = 0;
  for (let i = 0; i < c.all.length; i++) if (c.all[i].variable.disposed) dead++;
  if (dead === 0) return;
  c.generation++;
  const gone = new Set<Variable>();
  const keep: VarRecord[] = [];
  for (const rec of c.all) {
    if (!rec.variable.disposed) {
      keep.push(rec);
      continue;
    }
    c.records.delete(rec.variable);
    c.excludedVars.delete(rec.variable);
    rec.grad?.dispose();
    rec.sparse?.dispose();
    for (const s of rec.state) gone.add(s);
  }
  c.all.splice(0, c.all.length, ...keep);
  const own = c.own.filter((v) => !gone.has(v));
  for (const v of gone) v.dispose();
  c.own.splice(0, c.own.length, ...own);
  if (c.all.length === 0 && c.own.length === 0) c.heap = null;
}

/** A state variable, taking its values from a deferred restore when one names it. */
function newVariable(c: Core, heap: Heap, shape: readonly number[], name: string, init: number, make?: () => Variable): Variable {
  const saved = c.pending?.get(name);
  if (saved && saved.shape.join() !== shape.join()) {
    throw new Error(`${c.host.getClassName()}: the restored state has '${name}' with shape ${JSON.stringify(saved.shape)}, but it is created with shape ${JSON.stringify(shape)}`);
  }
  const v = make ? make() : Variable.zeros(shape, { name }, heap);
  c.own.push(v);
  if (saved) {
    restoreInto(v, saved);
    c.restored.add(v);
  } else if (init !== 0 && !make) v.value.fill(init);
  return v;
}

/** See Optimizer.addVariableFromReference. */
export function addSlotVariable(c: Core, reference: Variable, name: string, initialValue: number, shape: readonly number[]): Variable {
  const rec = recordOf(c, reference);
  if (rec.slots.has(name)) throw new Error(`${c.host.getClassName()}: slot '${name}' of '${reference.name}' already exists`);
  const slot = newVariable(c, reference.heap, checkShape('addVariableFromReference: shape', shape), `${reference.name}/${name}`, initialValue);
  rec.slots.set(name, slot);
  rec.state.push(slot);
  return slot;
}

/** See Optimizer.addSlot. */
export function addTypedSlot(c: Core, reference: Variable, name: string, options: { dtype: StateDtype; kind: QuantKind; rowSize?: number; initialValue?: number }): Variable {
  const init = options.initialValue ?? 0;
  if (options.dtype !== 'int8' || reference.size < INT8_MIN_SIZE) return addSlotVariable(c, reference, name, init, reference.shape);
  const rec = recordOf(c, reference);
  if (rec.slots.has(name)) throw new Error(`${c.host.getClassName()}: slot '${name}' of '${reference.name}' already exists`);
  const slot = newVariable(c, reference.heap, reference.shape, `${reference.name}/${name}`, init, () => new QuantizedSlot(reference, `${reference.name}/${name}`, options.kind, options.rowSize ?? reference.size, init));
  rec.slots.set(name, slot);
  rec.state.push(slot);
  return slot;
}

/** See Optimizer.addVariable. */
export function addOptimizerVariable(c: Core, name: string, shape: readonly number[], initialValue: number): Variable {
  if (!c.heap) throw new Error(`${c.host.getClassName()}: addVariable needs a built optimizer (call it from build())`);
  return newVariable(c, c.heap, checkShape('addVariable: shape', shape), name, initialValue);
}

/** See Optimizer.getSlot. */
export function slotOf(c: Core, variable: Variable, name: string): Variable {
  const rec = c.records.get(variable);
  const slot = rec?.slots.get(name) ?? (name === 'average' ? rec?.avg : name === 'gradient_accumulator' ? rec?.acc : null);
  if (!slot) throw new Error(`${c.host.getClassName()}: no slot '${name}' for variable '${variable?.name}'`);
  return slot;
}

/** See Optimizer.excludeFromWeightDecay. */
export function excludeFromWeightDecay(c: Core, options: { variables?: readonly Variable[]; names?: readonly string[] }): void {
  const o = checkOptions('excludeFromWeightDecay', options);
  checkOptionNames(null, 'excludeFromWeightDecay', o, ['variables', 'names']);
  const rawVariables: unknown = o.variables ?? [];
  const rawNames: unknown = o.names ?? [];
  // Copied once, then only the copies are checked and used.
  const variables = Array.isArray(rawVariables) ? [...(rawVariables as unknown[])] : null;
  const names = Array.isArray(rawNames) ? [...(rawNames as unknown[])] : null;
  if (variables === null || variables.some((v) => !(v instanceof Variable))) {
    throw new TypeError('excludeFromWeightDecay: variables must be an array of Variables');
  }
  if (names === null || names.some((n) => typeof n !== 'string')) {
    throw new TypeError('excludeFromWeightDecay: names must be an array of strings (regular expressions)');
  }
  let regex: RegExp | null = null;
  try {
    regex = names.length ? new RegExp(names.join('|')) : null;
  } catch (e) {
    throw new SyntaxError(`excludeFromWeightDecay: names do not form a valid regular expression: ${(e as Error).message}`);
  }
  c.excludedVars.clear();
  for (const v of variables as Variable[]) c.excludedVars.add(v);
  c.excludedNames = regex;
  for (const rec of c.all) rec.decays = decays(c, rec.variable);
}
