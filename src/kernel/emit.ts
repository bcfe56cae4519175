// The WebAssembly binary of a kernel, written directly (no toolchain at run time). One function,
// export "run", over an imported memory "env"."memory" (the heap's):
//   run(ptr_0 .. ptr_{k-1}: i32, n: i32, e: i32, scalar_0 .. scalar_{m-1}: f32[, pl: i32]) -> () | f64
// Elements [0, e) go through an f32x4 loop (e is n & ~3, or 0 when SIMD is off), the rest through
// a scalar loop that gives the same bits per element. Every node is a local; constants and scalars
// are splatted once before the loop; all loads of an element happen before its stores.
// A reduction follows the accumulation order of assembly/reduce.ts exactly.
// A pipeline kernel (plan.pipeline) takes the step pipeline's record address `pl` last (0: none)
// and, when the record's flags are not 0, runs a second pair of loops that apply them exactly as
// assembly/pipeline.ts does: each load of the gradient unscaled / clamped / scaled, the load of
// the weight decayed, its store followed by the EMA update of the average at weight + delta. The
// record's fields are read and splatted once per call; each flag is tested per element group.
// Encodings: WebAssembly core spec 1.0 binary format, SIMD opcodes from the fixed-width SIMD
// proposal (0xFD prefix, LEB128 opcode); checked against binaryen's encoder when written.
import { PIPE_CLAMP, PIPE_DECAY, PIPE_DIV, PIPE_EMA, PIPE_MUL, PIPE_MUL2, REC_C, REC_D, REC_DELTA, REC_FLAGS, REC_K, REC_M, REC_OM, REC_S, REC_S2 } from '../base/pipeline.js';
import { Op, type Node } from './graph.js';
import type { Plan } from './define.js';

const I32 = 0x7f;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;

// Core opcodes.
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, ELSE = 0x05, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, SELECT = 0x1b;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22;
const I32_LOAD = 0x28, F32_LOAD = 0x2a, F32_STORE = 0x38, I32_CONST = 0x41, F32_CONST = 0x43;
const I32_GE_U = 0x4f, I32_ADD = 0x6a, I32_AND = 0x71, I32_SHL = 0x74;
const F64_ADD = 0xa0, F64_MUL = 0xa2, F64_PROMOTE = 0xbb, F32_MAX = 0x97, F32_ABS = 0x8b, F32_NEG = 0x8c;
const SCALAR_OP: Record<number, number> = {
  [Op.Add]: 0x92, [Op.Sub]: 0x93, [Op.Mul]: 0x94, [Op.Div]: 0x95, [Op.Min]: 0x96, [Op.Max]: 0x97,
  [Op.Neg]: 0x8c, [Op.Abs]: 0x8b, [Op.Sqrt]: 0x91,
  [Op.Eq]: 0x5b, [Op.Ne]: 0x5c, [Op.Lt]: 0x5d, [Op.Gt]: 0x5e, [Op.Le]: 0x5f, [Op.Ge]: 0x60,
};
// SIMD opcodes (after the 0xFD prefix).
const SIMD = 0xfd;
const V_LOAD = 0x00, V_STORE = 0x0b, V_CONST = 0x0c, V_SHUFFLE = 0x0d, F32X4_SPLAT = 0x13;
const F32X4_EXTRACT = 0x1f, F64X2_EXTRACT = 0x21, V_AND = 0x4e, V_OR = 0x50, V_BITSELECT = 0x52;
const F64X2_PROMOTE_LOW = 0x5f, F32X4_MAX = 0xe9, F32X4_ABS = 0xe0, F64X2_ADD = 0xf0, F64X2_MUL = 0xf2;
const VECTOR_OP: Record<number, number> = {
  [Op.Add]: 0xe4, [Op.Sub]: 0xe5, [Op.Mul]: 0xe6, [Op.Div]: 0xe7, [Op.Min]: 0xe8, [Op.Max]: 0xe9,
  [Op.Neg]: 0xe1, [Op.Abs]: 0xe0, [Op.Sqrt]: 0xe3,
  [Op.Eq]: 0x41, [Op.Ne]: 0x42, [Op.Lt]: 0x43, [Op.Gt]: 0x44, [Op.Le]: 0x45, [Op.Ge]: 0x46,
};

export const CUSTOM_SECTION = 'wasm-optim:kernel';
const CANONICAL_NAN = 0x7fc00000;

// The pipeline record's f32 fields (assembly/pipeline.ts) as locals: byte offsets, -1 for -c (from c).
const FIELDS = [REC_D * 4, REC_S * 4, REC_C * 4, -1, REC_S2 * 4, REC_K * 4, REC_M * 4, REC_OM * 4];
const F_D = 0, F_S = 1, F_C = 2, F_NEG_C = 3, F_S2 = 4, F_K = 5, F_M = 6, F_OM = 7;

/** A growable byte buffer with the LEB128 encodings the format uses. */
class Bytes {
  private buf = new Uint8Array(256);
  length = 0;

  byte(b: number): this {
    if (this.length === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = b;
    return this;
  }
  bytes(bs: ArrayLike<number>): this {
    for (let i = 0; i < bs.length; i++) this.byte(bs[i]);
    return this;
  }
  u32(v: number): this {
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }
  s32(v: number): this {
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }
  f32bits(bits: number): this {
    return this.byte(bits & 0xff).byte((bits >>> 8) & 0xff).byte((bits >>> 16) & 0xff).byte((bits >>> 24) & 0xff);
  }
  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }
  simd(op: number): this {
    return this.byte(SIMD).u32(op);
  }
  section(id: number, content: Bytes): this {
    return this.byte(id).u32(content.length).bytes(content.view());
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const f32Bits = (x: number): number => {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0];
};

/** Function body builder: locals are appended as needed and declared at the end. */
class FunctionBuilder {
  readonly code = new Bytes();
  private readonly localTypes: number[] = [];

  constructor(private readonly nParams: number) {}

  local(type: number): number {
    this.localTypes.push(type);
    return this.nParams + this.localTypes.length - 1;
  }
  get(i: number): this {
    this.code.byte(LOCAL_GET).u32(i);
    return this;
  }
  set(i: number): this {
    this.code.byte(LOCAL_SET).u32(i);
    return this;
  }
  tee(i: number): this {
    this.code.byte(LOCAL_TEE).u32(i);
    return this;
  }
  /** Bytes of the function: local declarations (runs of one type), then the code and `end`. */
  finish(): Uint8Array {
    const f = new Bytes();
    const runs: [number, number][] = [];
    for (const t of this.localTypes) {
      if (runs.length && runs[runs.length - 1][1] === t) runs[runs.length - 1][0]++;
      else runs.push([1, t]);
    }
    f.u32(runs.length);
    for (const [count, t] of runs) f.u32(count).byte(t);
    f.bytes(this.code.view()).byte(END);
    return f.view().slice();
  }
}

/** Emits the module for `plan`; `shared`: over a shared memory (a threaded arena, docs/threads.md). */
export function emitModule(plan: Plan, shared = false): Uint8Array {
  const k = plan.arrays.length;
  const N = k, E = k + 1;
  const pipe = plan.reduce === null ? plan.pipeline : null;
  const PL = k + 2 + plan.scalars.length; // the record's address, a pipeline kernel's last parameter
  const params = [...plan.arrays.map(() => I32), I32, I32, ...plan.scalars.map(() => F32), ...(pipe ? [I32] : [])];
  const fb = new FunctionBuilder(params.length);
  const c = fb.code;
  const nodes = plan.nodes;
  const scalarParam = (s: number) => k + 2 + s;

  const i = fb.local(I32);
  const end = fb.local(I32);
  const needSign = nodes.some((n) => n.op === Op.Sign);

  // Before the loops: splat constants and scalars into v128 locals; the sign recipe's constants.
  const vec = new Int32Array(nodes.length);
  nodes.forEach((n, id) => {
    if (n.op === Op.Const) {
      c.byte(F32_CONST).f32bits(f32Bits(n.value)).simd(F32X4_SPLAT);
      fb.set((vec[id] = fb.local(V128)));
    } else if (n.op === Op.Scalar) {
      fb.get(scalarParam(n.a));
      c.simd(F32X4_SPLAT);
      fb.set((vec[id] = fb.local(V128)));
    }
  });
  const splatConst = (x: number): number => splatBits(f32Bits(x));
  const splatBits = (bits: number): number => {
    c.simd(V_CONST).f32bits(bits).f32bits(bits).f32bits(bits).f32bits(bits);
    const l = fb.local(V128);
    fb.set(l);
    return l;
  };
  const vZero = needSign ? splatConst(0) : -1;
  const vOne = needSign ? splatConst(1) : -1;
  const vMinusOne = needSign ? splatConst(-1) : -1;
  const vNaN = nodes.some((n) => n.op === Op.Min || n.op === Op.Max) ? splatBits(CANONICAL_NAN) : -1;
  nodes.forEach((n, id) => {
    if (n.op !== Op.Const && n.op !== Op.Scalar) vec[id] = fb.local(V128);
  });
  const sca = new Int32Array(nodes.length);
  nodes.forEach((n, id) => {
    if (n.op !== Op.Const && n.op !== Op.Scalar) sca[id] = fb.local(n.op >= Op.Lt && n.op <= Op.Ne ? I32 : F32);
  });
  // The pipeline: its flags, its fields as f32 (ps) and splatted (pv), the EMA's byte distance.
  const pf = pipe ? fb.local(I32) : -1;
  const delta = pipe ? fb.local(I32) : -1;
  const avgAt = pipe ? fb.local(I32) : -1;
  const ps = pipe ? FIELDS.map(() => fb.local(F32)) : [];
  const pv = pipe ? FIELDS.map(() => fb.local(V128)) : [];
  /** Runs `inner` when the record's flags have one of `bits`. */
  const flagIf = (bits: number, inner: () => void) => {
    fb.get(pf).code.byte(I32_CONST).s32(bits).byte(I32_AND).byte(IF).byte(0x40);
    inner();
    c.byte(END);
  };
  /** local = local <op> field (vector or scalar). */
  const apply = (vector: boolean, l: number, op: number, field: number) => {
    fb.get(l).get(vector ? pv[field] : ps[field]);
    if (vector) c.simd(VECTOR_OP[op]);
    else c.byte(SCALAR_OP[op]);
    fb.set(l);
  };
  /** pipeG / pipeG1 of assembly/pipeline.ts on a loaded gradient. */
  const pipeGradient = (vector: boolean, l: number) =>
    flagIf(PIPE_DIV | PIPE_MUL | PIPE_CLAMP | PIPE_MUL2, () => {
      flagIf(PIPE_DIV, () => apply(vector, l, Op.Div, F_D));
      flagIf(PIPE_MUL, () => apply(vector, l, Op.Mul, F_S));
      flagIf(PIPE_CLAMP, () => {
        apply(vector, l, Op.Max, F_NEG_C);
        apply(vector, l, Op.Min, F_C);
      });
      flagIf(PIPE_MUL2, () => apply(vector, l, Op.Mul, F_S2));
    });
  /** pipeW / pipeW1: w - w * k on the loaded weight. */
  const pipeWeight = (vector: boolean, l: number) =>
    flagIf(PIPE_DECAY, () => {
      fb.get(l).get(l).get(vector ? pv[F_K] : ps[F_K]);
      if (vector) c.simd(VECTOR_OP[Op.Mul]).simd(VECTOR_OP[Op.Sub]);
      else c.byte(SCALAR_OP[Op.Mul]).byte(SCALAR_OP[Op.Sub]);
      fb.set(l);
    });

  const addr = (array: number) => fb.get(array).get(i).code.byte(I32_ADD);
  const pushV = (id: number) => fb.get(vec[id]);
  const pushS = (id: number) => {
    const n = nodes[id];
    if (n.op === Op.Const) c.byte(F32_CONST).f32bits(f32Bits(n.value));
    else if (n.op === Op.Scalar) fb.get(scalarParam(n.a));
    else fb.get(sca[id]);
  };

  /** One element group (4 lanes) or one element: every computed node, in order. */
  const body = (vector: boolean, piped = false) => {
    nodes.forEach((n: Node, id) => {
      if (n.op === Op.Const || n.op === Op.Scalar) return;
      const push = vector ? pushV : pushS;
      if (n.op === Op.Array) {
        addr(n.a);
        if (vector) c.simd(V_LOAD).u32(2).u32(0); // align 2^2: arrays are 4-byte aligned
        else c.byte(F32_LOAD).u32(2).u32(0);
      } else if (n.op === Op.Where) {
        push(n.b);
        push(n.c);
        push(n.a);
        if (vector) c.simd(V_BITSELECT);
        else c.byte(SELECT);
      } else if (n.op === Op.Sign) {
        if (vector) {
          // assembly/lion.ts: or(or(and(gt(x,0), 1), and(lt(x,0), -1)), ne(x,x)): a NaN gets all bits set.
          pushV(n.a).get(vZero).code.simd(VECTOR_OP[Op.Gt]);
          fb.get(vOne).code.simd(V_AND);
          pushV(n.a).get(vZero).code.simd(VECTOR_OP[Op.Lt]);
          fb.get(vMinusOne).code.simd(V_AND).simd(V_OR);
          push(n.a);
          push(n.a);
          c.simd(VECTOR_OP[Op.Ne]).simd(V_OR);
        } else {
          // The same bits: x > 0 ? 1 : x < 0 ? -1 : x != x ? all-ones : +0.
          c.byte(F32_CONST).f32bits(f32Bits(1));
          c.byte(F32_CONST).f32bits(f32Bits(-1));
          c.byte(F32_CONST).f32bits(0xffffffff);
          c.byte(F32_CONST).f32bits(0);
          push(n.a);
          push(n.a);
          c.byte(SCALAR_OP[Op.Ne]).byte(SELECT);
          push(n.a);
          c.byte(F32_CONST).f32bits(0).byte(SCALAR_OP[Op.Lt]).byte(SELECT);
          push(n.a);
          c.byte(F32_CONST).f32bits(0).byte(SCALAR_OP[Op.Gt]).byte(SELECT);
        }
      } else {
        push(n.a);
        if (n.b >= 0) push(n.b);
        if (vector) c.simd(VECTOR_OP[n.op]);
        else c.byte(SCALAR_OP[n.op]);
        if (n.op === Op.Min || n.op === Op.Max) {
          // Engines return different NaNs from f32x4.min/max and f32.min/max (V8 on x64): a NaN
          // result becomes 0x7FC00000 in both loops, as in assembly/elementwise.ts.
          const r = vector ? vec[id] : sca[id];
          fb.set(r);
          if (vector) {
            fb.get(vNaN).get(r).get(r).get(r).code.simd(VECTOR_OP[Op.Ne]).simd(V_BITSELECT);
          } else {
            c.byte(F32_CONST).f32bits(CANONICAL_NAN);
            fb.get(r).get(r).get(r).code.byte(SCALAR_OP[Op.Ne]).byte(SELECT);
          }
        }
      }
      fb.set(vector ? vec[id] : sca[id]);
      if (piped && pipe && n.op === Op.Array) {
        if (n.a === pipe.gradient) pipeGradient(vector, vector ? vec[id] : sca[id]);
        else if (n.a === pipe.weight) pipeWeight(vector, vector ? vec[id] : sca[id]);
      }
    });
  };

  /** A loop over i (bytes) up to `end`, step `step`, running `inner`. */
  const loop = (step: number, inner: () => void) => {
    c.byte(BLOCK).byte(0x40).byte(LOOP).byte(0x40);
    fb.get(i).get(end).code.byte(I32_GE_U).byte(BR_IF).u32(1);
    inner();
    fb.get(i).code.byte(I32_CONST).s32(step).byte(I32_ADD);
    fb.set(i).code.byte(BR).u32(0).byte(END).byte(END);
  };
  const setEnd = (count: number, mask4: boolean) => {
    fb.get(count);
    if (mask4) c.byte(I32_CONST).s32(-4).byte(I32_AND);
    c.byte(I32_CONST).s32(2).byte(I32_SHL);
    fb.set(end);
  };

  if (plan.reduce === null) {
    const stores = (vector: boolean, piped: boolean) => {
      for (const o of plan.outputs) {
        const value = vector ? vec[o.node] : sca[o.node];
        addr(o.array);
        if (vector) fb.get(value).code.simd(V_STORE).u32(2).u32(0);
        else fb.get(value).code.byte(F32_STORE).u32(2).u32(0);
        if (piped && pipe && o.array === pipe.weight) {
          // pipeStoreW / pipeStoreW1: avg = m * avg + (1 - m) * w_new, avg at the weight's address + delta.
          flagIf(PIPE_EMA, () => {
            addr(o.array);
            fb.get(delta).code.byte(I32_ADD);
            fb.tee(avgAt).get(vector ? pv[F_M] : ps[F_M]).get(avgAt);
            if (vector) c.simd(V_LOAD).u32(2).u32(0).simd(VECTOR_OP[Op.Mul]);
            else c.byte(F32_LOAD).u32(2).u32(0).byte(SCALAR_OP[Op.Mul]);
            fb.get(vector ? pv[F_OM] : ps[F_OM]).get(value);
            if (vector) c.simd(VECTOR_OP[Op.Mul]).simd(VECTOR_OP[Op.Add]).simd(V_STORE).u32(2).u32(0);
            else c.byte(SCALAR_OP[Op.Mul]).byte(SCALAR_OP[Op.Add]).byte(F32_STORE).u32(2).u32(0);
          });
        }
      }
    };
    const loops = (piped: boolean) => {
      setEnd(E, false);
      loop(16, () => (body(true, piped), stores(true, piped)));
      setEnd(N, false);
      loop(4, () => (body(false, piped), stores(false, piped)));
    };
    if (pipe) {
      // flags = pl ? load(pl) : 0; without flags, the loops of a kernel without the pipeline.
      fb.get(PL).code.byte(IF).byte(0x40);
      fb.get(PL).code.byte(I32_LOAD).u32(2).u32(REC_FLAGS * 4);
      fb.set(pf).code.byte(END);
      fb.get(pf).code.byte(IF).byte(0x40);
      FIELDS.forEach((offset, j) => {
        if (offset < 0) fb.get(ps[F_C]).code.byte(F32_NEG); // -c, as f32x4.neg(c) and -c give
        else fb.get(PL).code.byte(F32_LOAD).u32(2).u32(offset);
        fb.tee(ps[j]).code.simd(F32X4_SPLAT);
        fb.set(pv[j]);
      });
      fb.get(PL).code.byte(I32_LOAD).u32(2).u32(REC_DELTA * 4);
      fb.set(delta);
      loops(true);
      c.byte(ELSE);
      loops(false);
      c.byte(END);
    } else {
      loops(false);
    }
  } else {
    emitReduction(plan, fb, { i, end, vec, sca, body, loop, setEnd, N, E, pushS: (id) => pushS(id) });
  }

  const fn = fb.finish();
  const out = new Bytes().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const types = new Bytes().u32(1).byte(0x60).u32(params.length).bytes(params);
  if (plan.reduce) types.u32(1).byte(F64);
  else types.u32(0);
  out.section(1, types);
  // Limits: flags 0 (min only), or 3 (shared, min and max: a shared import must declare its maximum).
  const limits = shared ? new Bytes().byte(0x03).u32(0).u32(65536) : new Bytes().byte(0x00).u32(0);
  out.section(2, new Bytes().u32(1).name('env').name('memory').byte(0x02).bytes(limits.view()));
  out.section(3, new Bytes().u32(1).u32(0));
  out.section(7, new Bytes().u32(1).name('run').byte(0x00).u32(0));
  out.section(10, new Bytes().u32(1).u32(fn.length).bytes(fn));
  out.section(0, new Bytes().name(CUSTOM_SECTION).bytes(new TextEncoder().encode(plan.signature)));
  return out.view().slice();
}

interface Parts {
  i: number;
  end: number;
  vec: Int32Array;
  sca: Int32Array;
  body: (vector: boolean) => void;
  loop: (step: number, inner: () => void) => void;
  setEnd: (count: number, mask4: boolean) => void;
  pushS: (id: number) => void;
  N: number;
  E: number;
}

/** The reduction loops, in assembly/reduce.ts's order (see there). */
function emitReduction(plan: Plan, fb: FunctionBuilder, p: Parts): void {
  const c = fb.code;
  const r = plan.result;
  const isSum = plan.reduce === 'sum' || plan.reduce === 'sumOfSquares';
  const sq = plan.reduce === 'sumOfSquares';
  const ab = plan.reduce === 'maxAbs';
  const lane = isSum ? F64 : F32;
  const a = [0, 1, 2, 3].map(() => fb.local(lane));
  const acc = fb.local(V128);
  const acc2 = isSum ? fb.local(V128) : -1;
  const t = fb.local(lane);
  const tf = fb.local(F64);
  const res = fb.local(lane);
  const v128const = (laneBits: number) => {
    c.simd(V_CONST);
    for (let j = 0; j < 4; j++) c.f32bits(laneBits);
  };
  // Lanes start at 0 (sums, maxAbs) or -Infinity (max).
  v128const(plan.reduce === 'max' ? 0xff800000 : 0);
  fb.set(acc);
  if (isSum) {
    v128const(0);
    fb.set(acc2);
  }
  const tv = fb.local(V128);
  p.setEnd(p.E, false);
  p.loop(16, () => {
    p.body(true);
    if (isSum) {
      // acc += promote(lanes 0,1) (squared); acc2 += promote(lanes 2,3) (squared).
      const half = (target: number, high: boolean) => {
        fb.get(p.vec[r]);
        if (high) fb.get(p.vec[r]).code.simd(V_SHUFFLE).bytes([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]);
        c.simd(F64X2_PROMOTE_LOW);
        if (sq) fb.set(tv).get(tv).get(tv).code.simd(F64X2_MUL);
        fb.set(tv).get(target).get(tv).code.simd(F64X2_ADD);
        fb.set(target);
      };
      half(acc, false);
      half(acc2, true);
    } else {
      fb.get(acc).get(p.vec[r]);
      if (ab) c.simd(F32X4_ABS);
      c.simd(F32X4_MAX);
      fb.set(acc);
    }
  });
  for (let j = 0; j < 4; j++) {
    if (isSum) fb.get(j < 2 ? acc : acc2).code.simd(F64X2_EXTRACT).byte(j & 1);
    else fb.get(acc).code.simd(F32X4_EXTRACT).byte(j);
    fb.set(a[j]);
  }
  /** Pushes f(element) for the accumulator: the value promoted (and squared), or |value|. */
  const pushTerm = () => {
    p.pushS(r);
    if (isSum) {
      c.byte(F64_PROMOTE);
      if (sq) fb.set(tf).get(tf).get(tf).code.byte(F64_MUL);
    } else if (ab) c.byte(F32_ABS);
  };
  const combine = isSum ? F64_ADD : F32_MAX;
  // Full groups left (SIMD off): element i goes to lane 0, then the lanes rotate by one, so after
  // each group of four every lane is back in place.
  p.setEnd(p.N, true);
  p.loop(4, () => {
    p.body(false);
    fb.get(a[0]);
    pushTerm();
    c.byte(combine);
    fb.set(t).get(a[1]).set(a[0]).get(a[2]).set(a[1]).get(a[3]).set(a[2]).get(t).set(a[3]);
  });
  fb.get(a[0]).get(a[2]).code.byte(combine);
  fb.get(a[1]).get(a[3]).code.byte(combine).byte(combine);
  fb.set(res);
  p.setEnd(p.N, false);
  p.loop(4, () => {
    p.body(false);
    fb.get(res);
    pushTerm();
    c.byte(combine);
    fb.set(res);
  });
  fb.get(res);
  if (!isSum) c.byte(F64_PROMOTE);
}
