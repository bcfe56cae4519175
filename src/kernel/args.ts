// Checking a kernel's run() arguments, as kernels.* check theirs. Two phases:
// 1. read: each array and scalar is read from the caller's objects exactly once (getters, Proxy
//    traps and a Variable's `value` run here and only here), into slots owned by the kernel;
// 2. check: only the slots are used. A view's pointer and length come from the engine
//    (src/typed.ts), never from its properties. Offsets stay valid if the memory grows later in the
//    call (the fallback's scratch is allocated after the check). Nothing allocates.
import { type Heap } from '../arena.js';
import { isFloat32Array, typedBuffer, typedByteOffset, typedLength } from '../typed.js';
import { describeValue } from '../validate.js';
import { Variable } from '../variable.js';
import { defaultHeap, isReady } from '../wasm.js';
import type { Plan } from './define.js';

/**
 * The last heap met through a Variable: a call whose arrays are all plain views is matched against
 * it and the default arena. One slot, so a foreign heap dropped by its owner is not kept alive
 * by more than that.
 */
let lastHeap: Heap | null = null;

export class Args {
  /** Phase-1 slots: the value read for each array, and the heap of a Variable (else null). */
  private readonly raw: unknown[];
  private readonly heaps: (Heap | null)[];
  /** Checked: byte offset of each array, the element count, the scalar values. */
  readonly ptr: number[];
  readonly scalar: number[];
  n = 0;
  heap: Heap | null = null;
  private reading = false;

  constructor(private readonly plan: Plan) {
    this.raw = plan.arrays.map(() => null);
    this.heaps = plan.arrays.map(() => null);
    // Generic (tagged) elements: a scalar is kept as the caller's number object, so passing it on
    // to wasm boxes nothing (a double-elements array would box it again on every read).
    this.ptr = tagged(plan.arrays.length);
    this.scalar = tagged(plan.scalars.length);
  }

  private fail(msg: string): never {
    throw new TypeError(`kernel '${this.plan.name}': run: ${msg}`);
  }

  /** Reads and checks everything; after it returns, `heap`, `ptr`, `n` and `scalar` hold the call. */
  take(arrays: unknown, scalars: unknown): void {
    const p = this.plan;
    if (this.reading) this.fail('called again from a getter of its own arguments');
    if (arrays === null || typeof arrays !== 'object') this.fail(`arrays must be an object { ${p.arrays.join(', ')} }, got ${describeValue(arrays)}`);
    const ns = p.scalars.length;
    if (ns > 0 && (scalars === null || typeof scalars !== 'object')) this.fail(`scalars must be an object { ${p.scalars.join(', ')} }, got ${describeValue(scalars)}`);
    this.reading = true;
    try {
      for (let j = 0; j < p.arrays.length; j++) {
        let x: unknown = (arrays as Record<string, unknown>)[p.arrays[j]];
        let h: Heap | null = null;
        if (x instanceof Variable) {
          h = x.heap;
          x = x.value;
        }
        this.raw[j] = x;
        this.heaps[j] = h;
      }
      for (let s = 0; s < ns; s++) this.scalar[s] = (scalars as Record<string, number>)[p.scalars[s]];
    } finally {
      this.reading = false;
    }
    this.check();
  }

  private check(): void {
    const p = this.plan;
    let heap: Heap | null = null;
    for (let j = 0; j < this.heaps.length && heap === null; j++) heap = this.heaps[j];
    let n = -1;
    for (let j = 0; j < p.arrays.length; j++) {
      const x = this.raw[j];
      const name = p.arrays[j];
      if (!isFloat32Array(x)) this.fail(`${name} must be a Variable or a Float32Array view of wasm memory, got ${describeValue(x)}`);
      const buffer = typedBuffer(x);
      if (heap === null) {
        if (lastHeap !== null && lastHeap.memory.buffer === buffer) heap = lastHeap;
        else if (isReady()) heap = defaultHeap();
        if (heap === null) throw new Error(`kernel '${p.name}': run: wasm-optim is not ready: call \`await ready()\` once before running kernels`);
      }
      if (buffer !== heap.memory.buffer) {
        this.fail(`${name} must be a view of the same wasm memory as the other arrays (a Variable's .value, or a gradient passed to updateStep)`);
      }
      const off = typedByteOffset(x);
      const len = typedLength(x);
      if (off + len * 4 > buffer.byteLength) throw new RangeError(`kernel '${p.name}': run: ${name} does not lie inside wasm memory`);
      if (n < 0) n = len;
      else if (len !== n) throw new RangeError(`kernel '${p.name}': run: ${name} has ${len} elements, expected ${n} (as ${p.arrays[0]})`);
      this.ptr[j] = off;
      this.raw[j] = null; // drop the reference: the slots must not keep user objects alive
    }
    for (let j = 0; j < this.heaps.length; j++) {
      const h = this.heaps[j];
      if (h !== null) lastHeap = h;
      this.heaps[j] = null;
    }
    this.checkAliasing(n);
    for (let s = 0; s < this.scalar.length; s++) {
      const a: unknown = this.scalar[s];
      if (typeof a !== 'number' || Number.isNaN(a)) this.fail(`scalar ${p.scalars[s]} must be a number, got ${describeValue(a)}`);
      if (Number.isFinite(a) && !Number.isFinite(Math.fround(a))) {
        throw new RangeError(`kernel '${p.name}': run: scalar ${p.scalars[s]} must be representable in float32, got ${a} (${Math.fround(a)} in float32)`);
      }
    }
    this.n = n;
    this.heap = heap;
  }

  /** A written array shares no memory with another array, except an identical, declared (in, inout) pair. */
  private checkAliasing(n: number): void {
    const p = this.plan;
    const bytes = n * 4;
    if (bytes === 0) return;
    for (let i = 0; i < p.arrays.length; i++) {
      for (let j = i + 1; j < p.arrays.length; j++) {
        if (p.modes[i] === 'in' && p.modes[j] === 'in') continue;
        const a = this.ptr[i];
        const b = this.ptr[j];
        if (a < b + bytes && b < a + bytes) {
          if (a === b && declared(p, i, j)) continue;
          throw new RangeError(
            `kernel '${p.name}': run: ${p.arrays[i]} and ${p.arrays[j]} overlap in memory; ` +
              (p.modes[i] === 'inout' && p.modes[j] === 'inout'
                ? 'two written arrays must be distinct'
                : `an 'in' array may be the same memory as an 'inout' one only when declared (aliases: [['${p.modes[i] === 'in' ? p.arrays[i] : p.arrays[j]}', '${p.modes[i] === 'in' ? p.arrays[j] : p.arrays[i]}']]) and exactly equal`),
          );
        }
      }
    }
  }
}

/** An array of `n` numbers with generic elements (starts holding null, so V8 never unboxes it). */
export function tagged(n: number): number[] {
  return new Array<number>(n).fill(null as unknown as number);
}

function declared(p: Plan, i: number, j: number): boolean {
  for (let k = 0; k < p.aliases.length; k++) {
    const [a, b] = p.aliases[k];
    if ((a === i && b === j) || (a === j && b === i)) return true;
  }
  return false;
}
