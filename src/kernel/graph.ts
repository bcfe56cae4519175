// Recording a kernel's expression graph. The body runs once on Expr objects; every operation
// appends a node to the recorder, or returns the existing node for the same operation on the same
// operands (hash-consing), so a common subexpression is computed once. Node ids grow in creation
// order, and a node's operands always exist before it: the node list is already topologically
// sorted and the API cannot make a cycle.
import { describeValue } from '../validate.js';

/** Node operations. The emitter and the fallback switch on these numbers. */
export const Op = {
  Array: 0, // a = array index: the element loaded from that array
  Scalar: 1, // a = scalar index
  Const: 2, // value = a float32 constant
  Add: 3,
  Sub: 4,
  Mul: 5,
  Div: 6,
  Min: 7,
  Max: 8,
  Neg: 9,
  Abs: 10,
  Sqrt: 11,
  Sign: 12,
  Lt: 13, // comparisons yield a boolean (a mask), usable only as where()'s condition
  Le: 14,
  Gt: 15,
  Ge: 16,
  Eq: 17,
  Ne: 18,
  Where: 19, // a = condition, b = value when true, c = value when false
} as const;

export const OP_NAMES = ['array', 'scalar', 'const', 'add', 'sub', 'mul', 'div', 'min', 'max', 'neg', 'abs', 'sqrt', 'sign', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'where'];

export const isComparison = (op: number): boolean => op >= Op.Lt && op <= Op.Ne;

/** One recorded operation. */
export interface Node {
  readonly op: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  /** The float32 value of a Const node (0 otherwise). */
  readonly value: number;
}

/** An operand: an expression of the same kernel, or a number (a float32 constant). */
export type Operand = Expr | number;

/** Collects the nodes of one kernel while its body runs. */
export class Recorder {
  readonly nodes: Node[] = [];
  private readonly index = new Map<string, number>();
  /** Set once the body has returned: expressions kept past it cannot extend the graph. */
  sealed = false;

  constructor(readonly kernelName: string) {}

  add(op: number, a: number, b = -1, c = -1, value = 0): number {
    if (this.sealed) throw new Error(`kernel '${this.kernelName}': an expression was used after the body returned (the body runs once, to record)`);
    // Object.is keeps -0 and +0 apart; a constant is never NaN.
    const key = `${op},${a},${b},${c},${Object.is(value, -0) ? '-0' : value}`;
    let id = this.index.get(key);
    if (id === undefined) {
      id = this.nodes.length;
      this.nodes.push({ op, a, b, c, value });
      this.index.set(key, id);
    }
    return id;
  }

  fail(what: string): never {
    throw new TypeError(`kernel '${this.kernelName}': ${what}`);
  }

  /** The node of an operand: an Expr of this kernel, or a number turned into a constant. */
  operand(method: string, x: unknown): number {
    if (x instanceof Expr) {
      if (x.recorder !== this) this.fail(`${method}: the expression belongs to another kernel`);
      return x.id;
    }
    if (x instanceof Cond) this.fail(`${method}: a comparison (${OP_NAMES[this.nodes[x.id].op]}) is a boolean; use it only as where()'s condition`);
    if (typeof x !== 'number') this.fail(`${method}: expected an expression or a number, got ${describeValue(x)}`);
    const f = Math.fround(x);
    if (!Number.isFinite(x) || !Number.isFinite(f)) {
      throw new RangeError(`kernel '${this.kernelName}': ${method}: a constant must be finite in float32, got ${x}${Number.isFinite(x) ? ` (${f} in float32)` : ''}`);
    }
    return this.add(Op.Const, -1, -1, -1, f);
  }

  /** The node of a condition: a comparison of this kernel. */
  condition(x: unknown): number {
    if (x instanceof Cond && x.recorder === this) return x.id;
    if (x instanceof Cond) this.fail('where: the condition belongs to another kernel');
    this.fail(`where: the condition must be a comparison (a.lt(b), a.ge(0), ...), got ${x instanceof Expr ? 'an arithmetic expression' : describeValue(x)}`);
  }
}

function arity(r: Recorder, method: string, got: number, want: number): void {
  if (got !== want) r.fail(`${method} takes ${want} operand${want === 1 ? '' : 's'}, got ${got}`);
}

/** A per-element float32 value: an array element, a scalar, a constant, or arithmetic on them. */
export class Expr {
  /** @internal */
  constructor(
    readonly recorder: Recorder,
    readonly id: number,
  ) {}

  private bin(op: number, method: string, n: number, x: unknown): Expr {
    arity(this.recorder, method, n, 1);
    return new Expr(this.recorder, this.recorder.add(op, this.id, this.recorder.operand(method, x)));
  }

  private un(op: number, method: string, n: number): Expr {
    arity(this.recorder, method, n, 0);
    return new Expr(this.recorder, this.recorder.add(op, this.id));
  }

  private cmp(op: number, method: string, n: number, x: unknown): Cond {
    arity(this.recorder, method, n, 1);
    return new Cond(this.recorder, this.recorder.add(op, this.id, this.recorder.operand(method, x)));
  }

  /** this + x */
  add(x: Operand): Expr {
    return this.bin(Op.Add, 'add', arguments.length, x);
  }
  /** this - x */
  sub(x: Operand): Expr {
    return this.bin(Op.Sub, 'sub', arguments.length, x);
  }
  /** this * x */
  mul(x: Operand): Expr {
    return this.bin(Op.Mul, 'mul', arguments.length, x);
  }
  /** this / x */
  div(x: Operand): Expr {
    return this.bin(Op.Div, 'div', arguments.length, x);
  }
  /** min(this, x): a NaN operand gives NaN, -0 is less than +0 (wasm f32.min). */
  min(x: Operand): Expr {
    return this.bin(Op.Min, 'min', arguments.length, x);
  }
  /** max(this, x): a NaN operand gives NaN, +0 is greater than -0 (wasm f32.max). */
  max(x: Operand): Expr {
    return this.bin(Op.Max, 'max', arguments.length, x);
  }
  /** this * b + c, as a multiply then an add, each rounded to float32 (not a fused multiply-add). */
  mulAdd(b: Operand, c: Operand): Expr {
    arity(this.recorder, 'mulAdd', arguments.length, 2);
    const r = this.recorder;
    const p = r.add(Op.Mul, this.id, r.operand('mulAdd', b));
    return new Expr(r, r.add(Op.Add, p, r.operand('mulAdd', c)));
  }
  /** min(max(this, lo), hi) */
  clamp(lo: Operand, hi: Operand): Expr {
    arity(this.recorder, 'clamp', arguments.length, 2);
    const r = this.recorder;
    const l = r.add(Op.Max, this.id, r.operand('clamp', lo));
    return new Expr(r, r.add(Op.Min, l, r.operand('clamp', hi)));
  }
  /** -this (flips the sign bit) */
  neg(): Expr {
    return this.un(Op.Neg, 'neg', arguments.length);
  }
  /** |this| */
  abs(): Expr {
    return this.un(Op.Abs, 'abs', arguments.length);
  }
  /** sqrt(this) (correctly rounded) */
  sqrt(): Expr {
    return this.un(Op.Sqrt, 'sqrt', arguments.length);
  }
  /** +1, -1, or +0 for ±0; a NaN gives a NaN (all bits set). */
  sign(): Expr {
    return this.un(Op.Sign, 'sign', arguments.length);
  }
  lt(x: Operand): Cond {
    return this.cmp(Op.Lt, 'lt', arguments.length, x);
  }
  le(x: Operand): Cond {
    return this.cmp(Op.Le, 'le', arguments.length, x);
  }
  gt(x: Operand): Cond {
    return this.cmp(Op.Gt, 'gt', arguments.length, x);
  }
  ge(x: Operand): Cond {
    return this.cmp(Op.Ge, 'ge', arguments.length, x);
  }
  eq(x: Operand): Cond {
    return this.cmp(Op.Eq, 'eq', arguments.length, x);
  }
  ne(x: Operand): Cond {
    return this.cmp(Op.Ne, 'ne', arguments.length, x);
  }
}

/** A per-element boolean from a comparison (false when an operand is NaN, except ne). Only where() takes it. */
export class Cond {
  /** @internal */
  constructor(
    readonly recorder: Recorder,
    readonly id: number,
  ) {}
}

// Arithmetic on a condition is a mistake worth a clear message in plain JavaScript too.
for (const name of ['add', 'sub', 'mul', 'div', 'min', 'max', 'mulAdd', 'clamp', 'neg', 'abs', 'sqrt', 'sign', 'lt', 'le', 'gt', 'ge', 'eq', 'ne']) {
  Object.defineProperty(Cond.prototype, name, {
    value(this: Cond) {
      this.recorder.fail(`${name}: a comparison (${OP_NAMES[this.recorder.nodes[this.id].op]}) is a boolean; use it only as where()'s condition`);
    },
  });
}

/** Functions handed to the body as its third argument. */
export interface KernelOps {
  /** cond ? a : b, per element. */
  where(cond: Cond, a: Operand, b: Operand): Expr;
  min(a: Expr, b: Operand): Expr;
  max(a: Expr, b: Operand): Expr;
  clamp(x: Expr, lo: Operand, hi: Operand): Expr;
  /** a * b + c (a multiply, then an add). */
  mulAdd(a: Expr, b: Operand, c: Operand): Expr;
  sqrt(x: Expr): Expr;
  abs(x: Expr): Expr;
  neg(x: Expr): Expr;
  sign(x: Expr): Expr;
}

function self(r: Recorder, method: string, x: unknown): Expr {
  return new Expr(r, r.operand(method, x));
}

export function makeOps(r: Recorder): KernelOps {
  return Object.freeze({
    where(cond: Cond, a: Operand, b: Operand): Expr {
      arity(r, 'where', arguments.length, 3);
      const c = r.condition(cond);
      return new Expr(r, r.add(Op.Where, c, r.operand('where', a), r.operand('where', b)));
    },
    min: (a: Expr, b: Operand) => self(r, 'min', a).min(b),
    max: (a: Expr, b: Operand) => self(r, 'max', a).max(b),
    clamp: (x: Expr, lo: Operand, hi: Operand) => self(r, 'clamp', x).clamp(lo, hi),
    mulAdd: (a: Expr, b: Operand, c: Operand) => self(r, 'mulAdd', a).mulAdd(b, c),
    sqrt: (x: Expr) => self(r, 'sqrt', x).sqrt(),
    abs: (x: Expr) => self(r, 'abs', x).abs(),
    neg: (x: Expr) => self(r, 'neg', x).neg(),
    sign: (x: Expr) => self(r, 'sign', x).sign(),
  });
}
