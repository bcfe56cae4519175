// A kernel definition, checked and recorded once: the options are read once, the body runs once,
// and the result is a Plan (the reachable nodes renumbered in topological order, the outputs, and
// a signature string naming the computation) that the emitter and the fallback both consume.
import { describeValue } from '../validate.js';
import { Expr, makeOps, Op, OP_NAMES, Recorder, isComparison, type Cond, type KernelOps, type Node } from './graph.js';

/** How a kernel uses an array: read only, or read and written in place. */
export type ArrayMode = 'in' | 'inout';

/** What a reduction kernel returns. */
export type ReduceKind = 'sum' | 'sumOfSquares' | 'max' | 'maxAbs';

export const REDUCE_KINDS: readonly ReduceKind[] = ['sum', 'sumOfSquares', 'max', 'maxAbs'];

export interface Plan {
  readonly name: string;
  readonly arrays: readonly string[];
  readonly modes: readonly ArrayMode[];
  readonly scalars: readonly string[];
  readonly reduce: ReduceKind | null;
  /** Reachable nodes only, operands before their users. */
  readonly nodes: readonly Node[];
  /** Written arrays and their node (writes of an array's own unchanged element are dropped). */
  readonly outputs: readonly { readonly array: number; readonly node: number }[];
  /** The reduced node of a reduction kernel, else -1. */
  readonly result: number;
  /** Pairs (in, inout) of array indices that may be the same memory. */
  readonly aliases: readonly (readonly [number, number])[];
  /**
   * The step pipeline's arrays (assembly/pipeline.ts), or null: the run takes the record's address
   * as its last argument and transforms every load of `gradient`, decays the load of `weight` and
   * averages (EMA) its store.
   */
  readonly pipeline: { readonly weight: number; readonly gradient: number } | null;
  /** The computation, independent of names: keys the module cache and marks precompiled modules. */
  readonly signature: string;
}

const OPTION_NAMES = ['name', 'arrays', 'scalars', 'body', 'reduce', 'aliases', 'compile', 'pipeline'];
const NAME = /^[A-Za-z_$][\w$]*$/;

export function define(spec: unknown): Plan & { compile: boolean } {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new TypeError(`kernel: expected an options object { name, arrays, scalars?, body, reduce?, aliases?, compile?, pipeline? }, got ${describeValue(spec)}`);
  }
  const o = spec as Record<string, unknown>;
  // Each option read once.
  const name = o.name;
  const arraysIn = o.arrays;
  const scalarsIn = o.scalars;
  const body = o.body;
  const reduceIn = o.reduce;
  const aliasesIn = o.aliases;
  const compileIn = o.compile;
  const pipelineIn = o.pipeline;
  if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError(`kernel: name must be an identifier-like string (letters, digits, _ or $), got ${describeValue(name)}`);
  const fail = (msg: string): never => {
    throw new TypeError(`kernel '${name}': ${msg}`);
  };
  for (const k of Object.keys(o)) if (!OPTION_NAMES.includes(k)) fail(`unknown option '${k}' (expected one of: ${OPTION_NAMES.join(', ')})`);
  if (arraysIn === null || typeof arraysIn !== 'object' || Array.isArray(arraysIn)) fail(`arrays must be an object mapping each array's name to 'in' or 'inout', got ${describeValue(arraysIn)}`);
  const arrays: string[] = [];
  const modes: ArrayMode[] = [];
  for (const [k, v] of Object.entries(arraysIn as object)) {
    if (!NAME.test(k)) fail(`array name '${k}' must be an identifier`);
    if (v !== 'in' && v !== 'inout') fail(`arrays.${k} must be 'in' or 'inout', got ${describeValue(v)}`);
    arrays.push(k);
    modes.push(v as ArrayMode);
  }
  if (arrays.length === 0) fail('arrays must declare at least one array');
  let scalars: string[] = [];
  if (scalarsIn !== undefined) {
    if (!Array.isArray(scalarsIn)) fail(`scalars must be an array of names, got ${describeValue(scalarsIn)}`);
    scalars = [...(scalarsIn as unknown[])].map((s, i) => {
      if (typeof s !== 'string' || !NAME.test(s)) fail(`scalars[${i}] must be an identifier-like string, got ${describeValue(s)}`);
      return s as string;
    });
  }
  const seen = new Set<string>();
  for (const s of [...arrays, ...scalars]) {
    if (seen.has(s)) fail(`the name '${s}' is declared twice (${arrays.includes(s) && scalars.includes(s) ? 'as an array and as a scalar' : 'twice in the same list'})`);
    seen.add(s);
  }
  if (typeof body !== 'function') fail(`body must be a function ({ arrays }, { scalars }, ops) => outputs, got ${describeValue(body)}`);
  let reduce: ReduceKind | null = null;
  if (reduceIn !== undefined) {
    if (!REDUCE_KINDS.includes(reduceIn as ReduceKind)) fail(`reduce must be one of ${REDUCE_KINDS.map((k) => `'${k}'`).join(', ')}, got ${describeValue(reduceIn)}`);
    reduce = reduceIn as ReduceKind;
    const w = modes.indexOf('inout');
    if (w >= 0) fail(`a reduction kernel only reads: arrays.${arrays[w]} must be 'in'`);
  }
  if (compileIn !== undefined && typeof compileIn !== 'boolean') fail(`compile must be a boolean, got ${describeValue(compileIn)}`);
  const aliases: [number, number][] = [];
  if (aliasesIn !== undefined) {
    if (!Array.isArray(aliasesIn)) fail(`aliases must be an array of [inArray, inoutArray] pairs, got ${describeValue(aliasesIn)}`);
    for (const [i, pair] of [...(aliasesIn as unknown[])].entries()) {
      const p = Array.isArray(pair) && pair.length === 2 ? (pair as unknown[]).map((x) => arrays.indexOf(x as string)) : [-1, -1];
      if (p[0] < 0 || p[1] < 0) fail(`aliases[${i}] must be a pair of declared array names [inArray, inoutArray], got ${describeValue(pair)}`);
      if (modes[p[0]] !== 'in' || modes[p[1]] !== 'inout') fail(`aliases[${i}]: the first array must be 'in' and the second 'inout' (two written arrays may never share memory)`);
      aliases.push([p[0], p[1]]);
    }
  }
  const pipeline = pipelineIn === undefined ? null : definePipeline(pipelineIn, arrays, modes, aliases, reduce !== null, fail);

  const r = new Recorder(name);
  const arrayExprs = new Map(arrays.map((a, i) => [a, new Expr(r, r.add(Op.Array, i))]));
  const scalarExprs = new Map(scalars.map((s, i) => [s, new Expr(r, r.add(Op.Scalar, i))]));
  const lists = `arrays: ${arrays.join(', ')}; scalars: ${scalars.join(', ') || 'none'}`;
  const view = (map: Map<string, Expr>, kind: 'array' | 'scalar', other: Map<string, Expr>, otherArg: string) =>
    new Proxy(Object.freeze(Object.fromEntries(map)), {
      get(target, key) {
        if (typeof key !== 'string' || map.has(key)) return (target as Record<PropertyKey, unknown>)[key];
        if (other.has(key)) fail(`'${key}' is ${kind === 'array' ? 'a scalar' : 'an array'}: take it from the body's ${otherArg} argument`);
        if (key === 'then' || key === 'toJSON') return undefined; // probes by Promise and JSON, not reads
        return fail(`the body reads ${kind} '${key}', which is not declared (${lists})`);
      },
    });
  const ops: KernelOps = makeOps(r);
  let out: unknown;
  try {
    out = (body as (a: unknown, s: unknown, o: KernelOps) => unknown)(view(arrayExprs, 'array', scalarExprs, 'second'), view(scalarExprs, 'scalar', arrayExprs, 'first'), ops);
  } finally {
    r.sealed = true;
  }
  if (out !== null && typeof out === 'object' && typeof (out as { then?: unknown }).then === 'function') fail('body must return its outputs, not a Promise (it runs once, synchronously)');

  const outputs: { array: number; node: number }[] = [];
  let result = -1;
  const exprNode = (x: unknown, what: string): number => {
    if (x instanceof Expr) {
      if (x.recorder !== r) fail(`${what} is an expression of another kernel`);
      return x.id;
    }
    if (x !== null && typeof x === 'object' && 'recorder' in x && isComparison(r.nodes[(x as Cond).id]?.op ?? -1)) {
      fail(`${what} is a comparison (a boolean); an output must be a number expression (use where(cond, a, b))`);
    }
    return fail(`${what} must be an expression, got ${describeValue(x)}`);
  };
  if (reduce) {
    result = exprNode(out, `the body's result (the value to ${reduce})`);
  } else {
    if (out instanceof Expr) fail(`body must return an object { arrayName: expression } of the arrays it writes, got a single expression (a reduction kernel sets reduce: 'sum', ...)`);
    if (out === null || typeof out !== 'object' || Array.isArray(out)) fail(`body must return an object { arrayName: expression } of the arrays it writes, got ${describeValue(out)}`);
    const written = new Set<number>();
    for (const [k, v] of Object.entries(out as object)) {
      const i = arrays.indexOf(k);
      if (i < 0) fail(scalars.includes(k) ? `output '${k}' is a scalar; only 'inout' arrays can be written` : `output '${k}' is not a declared array (${lists})`);
      if (modes[i] !== 'inout') fail(`output '${k}' is an 'in' array; declare it 'inout' to write it`);
      const node = exprNode(v, `output '${k}'`);
      written.add(i);
      const n = r.nodes[node];
      // The pipeline's weight is always stored: its store decays and averages it even when unchanged.
      if (!(n.op === Op.Array && n.a === i) || i === pipeline?.weight) outputs.push({ array: i, node });
    }
    modes.forEach((m, i) => {
      if (m === 'inout' && !written.has(i)) fail(`array '${arrays[i]}' is 'inout' but the body returns no value for it (declare it 'in', or return { ${arrays[i]}: ... })`);
    });
  }
  return { ...compact(r.nodes, outputs, result, arrays, modes, scalars, reduce, aliases, pipeline), name, compile: compileIn !== false };
}

/** Checks the `pipeline` option: `{ weight, gradient }`, an 'inout' and an 'in' array, the weight never aliased. */
function definePipeline(
  spec: unknown,
  arrays: readonly string[],
  modes: readonly ArrayMode[],
  aliases: readonly (readonly [number, number])[],
  isReduction: boolean,
  fail: (msg: string) => never,
): { weight: number; gradient: number } {
  if (isReduction) fail('a reduction kernel takes no pipeline (the pipeline folds into an update that writes the weight)');
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    fail(`pipeline must be an object { weight, gradient } naming the weight ('inout') and the gradient ('in') arrays, got ${describeValue(spec)}`);
  }
  for (const k of Object.keys(spec as object)) if (k !== 'weight' && k !== 'gradient') fail(`pipeline: unknown key '${k}' (expected weight, gradient)`);
  const weightIn = (spec as Record<string, unknown>).weight;
  const gradientIn = (spec as Record<string, unknown>).gradient;
  const weight = typeof weightIn === 'string' ? arrays.indexOf(weightIn) : -1;
  if (weight < 0 || modes[weight] !== 'inout') {
    fail(`pipeline.weight must name an 'inout' array (the weight, decayed on its load and averaged on its store), got ${describeValue(weightIn)}`);
  }
  const gradient = typeof gradientIn === 'string' ? arrays.indexOf(gradientIn) : -1;
  if (gradient < 0 || modes[gradient] !== 'in') {
    fail(`pipeline.gradient must name an 'in' array (the gradient, unscaled and clipped on its load), got ${describeValue(gradientIn)}`);
  }
  for (const [i, [, b]] of aliases.entries()) {
    // Another array over the weight's memory would read it undecayed.
    if (b === weight) fail(`aliases[${i}]: the pipeline's weight '${arrays[weight]}' cannot be aliased (its decay applies to its own load only)`);
  }
  return { weight, gradient };
}

/** Keeps the nodes the outputs need, renumbered in order, and names the computation. */
function compact(
  all: readonly Node[],
  outs: readonly { array: number; node: number }[],
  result: number,
  arrays: string[],
  modes: ArrayMode[],
  scalars: string[],
  reduce: ReduceKind | null,
  aliases: [number, number][],
  pipeline: { weight: number; gradient: number } | null,
): Omit<Plan, 'name'> {
  const live = new Uint8Array(all.length);
  const roots = result >= 0 ? [result] : outs.map((o) => o.node);
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop() as number;
    if (live[id]) continue;
    live[id] = 1;
    const n = all[id];
    if (n.op >= Op.Add) for (const x of [n.a, n.b, n.c]) if (x >= 0) stack.push(x);
  }
  const map = new Int32Array(all.length).fill(-1);
  const nodes: Node[] = [];
  all.forEach((n, id) => {
    if (!live[id]) return;
    map[id] = nodes.length;
    const m = (x: number) => (n.op >= Op.Add && x >= 0 ? map[x] : x);
    nodes.push(Object.freeze({ op: n.op, a: m(n.a), b: m(n.b), c: m(n.c), value: n.value }));
  });
  const outputs = outs.map((o) => Object.freeze({ array: o.array, node: map[o.node] }));
  const bits = new Uint32Array(new Float32Array(nodes.map((n) => n.value)).buffer);
  const signature = [
    'wasm-optim-kernel/1',
    `arrays=${modes.map((m) => (m === 'in' ? 'i' : 'o')).join('')}`,
    `scalars=${scalars.length}`,
    `reduce=${reduce ?? '-'}`,
    `nodes=${nodes.map((n, i) => `${OP_NAMES[n.op]}(${n.op === Op.Const ? bits[i].toString(16) : [n.a, n.b, n.c].filter((x) => x >= 0).join(' ')})`).join(',')}`,
    `out=${result >= 0 ? map[result] : outputs.map((o) => `${o.array}:${o.node}`).join(',')}`,
    // Only a pipeline kernel names it (its module takes one more parameter): the others keep the signature of before.
    ...(pipeline ? [`pipeline=${pipeline.weight}:${pipeline.gradient}`] : []),
  ].join(';');
  return {
    arrays: Object.freeze(arrays),
    modes: Object.freeze(modes),
    scalars: Object.freeze(scalars),
    reduce,
    nodes: Object.freeze(nodes),
    outputs: Object.freeze(outputs),
    result: result >= 0 ? map[result] : -1,
    aliases: Object.freeze(aliases.map((p) => Object.freeze(p))),
    pipeline: pipeline ? Object.freeze({ ...pipeline }) : null,
    signature,
  };
}
