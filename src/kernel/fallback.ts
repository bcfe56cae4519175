// The multi-pass fallback, for runtimes that forbid compiling wasm at run time (workerd, Vercel
// Edge): the same graph runs as one call per node of the precompiled primitives in optim.wasm
// (assembly/elementwise.ts, per /work's kernel ABI: the same wasm instruction per lane as the
// generated kernel; reductions in assembly/reduce.ts, in the generated kernel's order), so the
// results are the same bits. The arrays are processed in chunks of CHUNK elements so the
// intermediates stay in cache. Every chunk computes all its nodes before any output is copied
// back (or written by the step computing it, when nothing later in the chunk reads that array), so
// each element reads all its inputs before anything is written (fused semantics).
// A pipeline kernel given the step pipeline's record takes the base class's separate passes: the
// weight decayed in place first (decay), each gradient chunk transformed into a scratch buffer
// that the steps read instead (divCopy, scaleCopy, clipByValue: the gradient itself, which may be
// the caller's memory, is never written), and the EMA of the new weights last (ema): per element,
// the same operations in the same order as the compiled loop.
import { type Heap, type KernelFn } from '../arena.js';
import { PIPE_CLAMP, PIPE_DECAY, PIPE_DIV, PIPE_EMA, PIPE_MUL, PIPE_MUL2, PipeViews, REC_C, REC_D, REC_DELTA, REC_FLAGS, REC_K, REC_M, REC_S, REC_S2 } from '../base/pipeline.js';
import { Op } from './graph.js';
import type { Plan } from './define.js';

/** Elements per chunk: a multiple of 4 (reductions carry their lanes across chunks). */
export const CHUNK = 2048;

const PRIMITIVE: Record<number, string> = {
  [Op.Add]: 'ewAdd', [Op.Sub]: 'ewSub', [Op.Mul]: 'ewMul', [Op.Div]: 'ewDiv', [Op.Min]: 'ewMin', [Op.Max]: 'ewMax',
  [Op.Neg]: 'ewNeg', [Op.Abs]: 'ewAbs', [Op.Sqrt]: 'ewSqrt', [Op.Sign]: 'ewSign',
  [Op.Lt]: 'ewLt', [Op.Le]: 'ewLe', [Op.Gt]: 'ewGt', [Op.Ge]: 'ewGe', [Op.Eq]: 'ewEq', [Op.Ne]: 'ewNe',
  [Op.Where]: 'ewSelect',
};
const REDUCER = { sum: 'reduceSum', sumOfSquares: 'reduceSumOfSquares', max: 'reduceMax', maxAbs: 'reduceMaxAbs' } as const;

/**
 * The heap-independent schedule: a list of primitive calls whose operands are either scratch
 * buffers (index >= 0) or arrays (-1 - array index), with buffers reused once their node is dead.
 */
export interface Program {
  /** Per step: primitive name, arity (1, 2 or 3 operands), out (a buffer, or an output array written directly), operands. */
  readonly steps: readonly { readonly fn: string; readonly arity: number; readonly out: number; readonly a: number; readonly b: number; readonly c: number }[];
  /** Buffers holding a scalar (filled each run) or a constant (filled once per heap). */
  readonly scalarFills: readonly { readonly buffer: number; readonly scalar: number }[];
  readonly constFills: readonly { readonly buffer: number; readonly value: number }[];
  /** Per output: array index and the operand holding its new values. */
  readonly outputs: readonly { readonly array: number; readonly from: number }[];
  /** Operand reduced by a reduction kernel. */
  readonly result: number;
  readonly buffers: number;
}

export function schedule(plan: Plan): Program {
  const nodes = plan.nodes;
  const where = new Int32Array(nodes.length); // operand of each node
  const lastUse = new Int32Array(nodes.length).fill(-1);
  nodes.forEach((n, id) => {
    if (n.op >= Op.Add) for (const x of [n.a, n.b, n.c]) if (x >= 0) lastUse[x] = id;
  });
  const pinned = new Uint8Array(nodes.length); // live to the chunk's end: outputs, the reduced node
  for (const o of plan.outputs) pinned[o.node] = 1;
  if (plan.result >= 0) pinned[plan.result] = 1;
  let buffers = 0;
  const free: number[] = [];
  const take = () => (free.length ? (free.pop() as number) : buffers++);
  const steps: Program['steps'][number][] = [];
  const scalarFills: { buffer: number; scalar: number }[] = [];
  const constFills: { buffer: number; value: number }[] = [];
  nodes.forEach((n, id) => {
    if (n.op === Op.Array) {
      // Read in place, unless it is an output's value: then copied, so the copy-back of another
      // output cannot change it first.
      where[id] = -1 - n.a;
      if (pinned[id]) {
        const buf = buffers++;
        steps.push({ fn: 'copy', arity: 1, out: buf, a: where[id], b: -1, c: -1 });
        where[id] = buf;
      }
      return;
    }
    if (n.op === Op.Scalar || n.op === Op.Const) {
      where[id] = buffers++;
      if (n.op === Op.Scalar) scalarFills.push({ buffer: where[id], scalar: n.a });
      else constFills.push({ buffer: where[id], value: n.value });
      return;
    }
    const operands = [n.a, n.b, n.c].filter((x) => x >= 0);
    // Operands dying here give their buffer back first: the primitives allow out == input.
    for (const x of new Set(operands)) {
      const nx = nodes[x];
      if (lastUse[x] === id && !pinned[x] && nx.op !== Op.Array && nx.op !== Op.Scalar && nx.op !== Op.Const) free.push(where[x]);
    }
    where[id] = take();
    const [a, b = -1, c = -1] = operands.map((x) => where[x]);
    steps.push({ fn: PRIMITIVE[n.op], arity: operands.length, out: where[id], a, b, c });
  });
  const outputs = plan.outputs.map((o) => ({ array: o.array, from: where[o.node] }));
  directWrites(plan, steps, outputs);
  return {
    steps,
    scalarFills,
    constFills,
    outputs: outputs.filter((o) => o.from !== -1 - o.array),
    result: plan.result >= 0 ? where[plan.result] : 0,
    buffers,
  };
}

/**
 * Saves an output's copy-back: the step computing it writes the array directly when no later step
 * reads that array's old contents (itself or a declared alias). Later readers of the node, and other
 * outputs of the same node, then read the array. Its buffer is pinned, so it holds only this node
 * from that step on.
 */
function directWrites(plan: Plan, steps: { fn: string; arity: number; out: number; a: number; b: number; c: number }[], outputs: { array: number; from: number }[]): void {
  for (const o of outputs) {
    if (o.from < 0) continue; // already an array
    // The node's own step is the last one writing its buffer (earlier writers were dead nodes sharing it).
    let j = steps.length - 1;
    while (j >= 0 && steps[j].out !== o.from) j--;
    if (j < 0 || steps[j].fn === 'copy') continue;
    const code = -1 - o.array;
    const readers = new Set([code]);
    for (const [x, y] of plan.aliases) {
      if (x === o.array) readers.add(-1 - y);
      if (y === o.array) readers.add(-1 - x);
    }
    const later = steps.slice(j + 1);
    if (later.some((st) => readers.has(st.a) || readers.has(st.b) || readers.has(st.c))) continue;
    const buffer = o.from;
    steps[j] = { ...steps[j], out: code };
    for (let k = j + 1; k < steps.length; k++) {
      const st = steps[k];
      steps[k] = { ...st, a: st.a === buffer ? code : st.a, b: st.b === buffer ? code : st.b, c: st.c === buffer ? code : st.c };
    }
    for (const other of outputs) if (other.from === buffer) other.from = code;
  }
}

/** The fallback bound to one heap: its scratch (allocated once) and the primitives' functions. */
export class FallbackRunner {
  private readonly fns: KernelFn[];
  private readonly arity: Int32Array;
  private readonly ops: Int32Array; // per step: out, a, b, c (operand codes)
  private readonly base: number;
  private readonly acc: number;
  private readonly fill: KernelFn;
  private readonly copy: KernelFn;
  private readonly reducer: KernelFn | null;
  /** The steps reading the transformed gradient's buffer (`gbuf`) instead of the gradient (pipeline kernels). */
  private readonly opsPiped: Int32Array;
  private readonly gbuf: number;
  private readonly pipe: { divCopy: KernelFn; scaleCopy: KernelFn; clipByValue: KernelFn; decay: KernelFn; ema: KernelFn } | null;
  private readonly record = new PipeViews();

  constructor(
    private readonly plan: Plan,
    private readonly program: Program,
    private readonly heap: Heap,
  ) {
    const k = heap.kernels;
    const need = (name: string): KernelFn => {
      const f = k[name];
      if (typeof f !== 'function') throw new Error(`kernel '${plan.name}': the fallback needs optim.wasm's ${name}, which this heap's kernels lack (an older optim.wasm?)`);
      return f;
    };
    this.fns = program.steps.map((s) => need(s.fn));
    this.arity = Int32Array.from(program.steps.map((s) => s.arity));
    this.ops = Int32Array.from(program.steps.flatMap((s) => [s.out, s.a, s.b, s.c]));
    this.fill = need('fill');
    this.copy = need('copy');
    this.reducer = plan.reduce ? need(REDUCER[plan.reduce]) : null;
    const pl = plan.pipeline;
    this.pipe = pl ? { divCopy: need('divCopy'), scaleCopy: need('scaleCopy'), clipByValue: need('clipByValue'), decay: need('decay'), ema: need('ema') } : null;
    // A pipeline kernel's transformed gradient: one more buffer, read where the steps read the gradient.
    const buffers = program.buffers + (pl ? 1 : 0);
    this.gbuf = program.buffers;
    const g = pl ? -1 - pl.gradient : 0;
    this.opsPiped = pl ? this.ops.map((x, i) => (i % 4 !== 0 && x === g ? this.gbuf : x)) : this.ops;
    // Scratch: the buffers, then 32 bytes of reduction lanes.
    this.base = heap.alloc(buffers * CHUNK * 4 + 32);
    this.acc = this.base + buffers * CHUNK * 4;
    for (const f of program.constFills) this.fill(this.addr(f.buffer), CHUNK, f.value);
  }

  private addr(buffer: number): number {
    return this.base + buffer * CHUNK * 4;
  }

  /**
   * Runs over `n` elements; `ptr` holds each array's byte offset, `scalar` the scalar values, `pl`
   * the pipeline record's address (0: none; checked by the caller).
   */
  run(ptr: readonly number[], n: number, scalar: readonly number[], pl = 0): number {
    const p = this.program;
    const fill = this.fill;
    let flags = 0;
    if (pl !== 0) {
      this.record.bind(this.heap); // pl is the heap's record (checked); views re-derived only after growth
      flags = this.record.i32[REC_FLAGS];
    }
    const filled = n < CHUNK ? n : CHUNK; // what the chunks read
    for (let s = 0; s < p.scalarFills.length; s++) {
      const f = p.scalarFills[s];
      fill(this.base + f.buffer * CHUNK * 4, filled, scalar[f.scalar]);
    }
    const kind = this.plan.reduce;
    if (kind !== null) {
      if (kind === 'max') fill(this.acc, 4, -Infinity);
      else fill(this.acc, 8, 0); // 4 f64 zeros (sums) or 4 f32 zeros (maxAbs)
    }
    let result = 0;
    const transforms = (flags & (PIPE_DIV | PIPE_MUL | PIPE_CLAMP | PIPE_MUL2)) !== 0;
    const ops = transforms ? this.opsPiped : this.ops;
    const weight = this.plan.pipeline === null ? 0 : ptr[this.plan.pipeline.weight];
    // Whole-array passes where they can be (fewer calls than one per chunk): elementwise, so the same bits.
    if ((flags & PIPE_DECAY) !== 0) (this.pipe as { decay: KernelFn }).decay(weight, n, this.record.f32[REC_K]);
    for (let off = 0; off < n; off += CHUNK) {
      const len = n - off < CHUNK ? n - off : CHUNK;
      const shift = off * 4;
      if (transforms) this.transform(flags, ptr, shift, len);
      for (let i = 0; i < this.fns.length; i++) {
        const o = i * 4;
        const out = this.operand(ops[o], ptr, shift);
        const a = this.operand(ops[o + 1], ptr, shift);
        const ar = this.arity[i];
        if (ar === 1) this.fns[i](out, a, len);
        else if (ar === 2) this.fns[i](out, a, this.operand(ops[o + 2], ptr, shift), len);
        else this.fns[i](out, a, this.operand(ops[o + 2], ptr, shift), this.operand(ops[o + 3], ptr, shift), len);
      }
      if (this.reducer !== null) {
        result = this.reducer(this.acc, this.operand(p.result, ptr, shift), len);
      } else {
        for (let j = 0; j < p.outputs.length; j++) {
          const out = p.outputs[j];
          this.copy(ptr[out.array] + shift, this.operand(out.from, ptr, shift), len);
        }
      }
    }
    if ((flags & PIPE_EMA) !== 0) (this.pipe as { ema: KernelFn }).ema(weight + this.record.i32[REC_DELTA], weight, n, this.record.f32[REC_M]);
    if (kind !== null && n === 0) result = this.reducer!(this.acc, this.acc, 0);
    return result;
  }

  /** A chunk of the gradient, unscaled and clipped as the record says, into gbuf (which the steps read). */
  private transform(flags: number, ptr: readonly number[], shift: number, len: number): void {
    const P = this.pipe as NonNullable<FallbackRunner['pipe']>;
    const f = this.record.f32;
    const gb = this.addr(this.gbuf);
    let src = ptr[(this.plan.pipeline as { gradient: number }).gradient] + shift;
    if ((flags & PIPE_DIV) !== 0) {
      P.divCopy(gb, src, len, f[REC_D]);
      src = gb;
    }
    if ((flags & PIPE_MUL) !== 0) {
      P.scaleCopy(gb, src, len, f[REC_S]);
      src = gb;
    }
    if ((flags & PIPE_CLAMP) !== 0) {
      if (src !== gb) this.copy(gb, src, len);
      P.clipByValue(gb, len, f[REC_C]);
      src = gb;
    }
    if ((flags & PIPE_MUL2) !== 0) P.scaleCopy(gb, src, len, f[REC_S2]);
  }

  private operand(code: number, ptr: readonly number[], shift: number): number {
    return code >= 0 ? this.base + code * CHUNK * 4 : ptr[-1 - code] + shift;
  }

  /** Gives the scratch back to the heap. */
  dispose(): void {
    this.heap.free(this.base);
  }
}
