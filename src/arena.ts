// Allocator for the kernel module's linear memory. Blocks are 16-byte aligned (one v128), free
// space is kept as a sorted, coalesced list, and memory grows only when no free block fits.
// Allocation happens when variables and slots are created, never in a training step.

const ALIGN = 16;
const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB: the wasm32 limit
const GUARD = 0xa5;

/** Where variables live: a linear memory, its kernels, and an allocator over it. */
export interface Heap {
  readonly memory: WebAssembly.Memory;
  readonly kernels: RawKernels;
  alloc(bytes: number): number;
  free(ptr: number): void;
  /**
   * Where the step pipeline's record lies (PIPELINE_BYTES bytes, assembly/pipeline.ts), if this
   * heap has one: without it, optimizers run clipping, decay and EMA as separate passes.
   */
  readonly pipeline?: number;
}

/** Size of the step pipeline's record (assembly/pipeline.ts), a multiple of 16. */
export const PIPELINE_BYTES = 48;

/** A kernel export: arguments are pointers (byte offsets), element counts and f32 scalars. */
export type KernelFn = (...args: number[]) => number;

/** The raw exports of optim.wasm. Kernels added by other optimizer files are reached by name. */
export interface RawKernels {
  readonly [name: string]: KernelFn;
}

export class Arena implements Heap {
  /** Bytes handed out and not yet freed. */
  liveBytes = 0;
  /** Largest liveBytes seen. */
  peakBytes = 0;
  private readonly freeStart: number[] = [];
  private readonly freeSize: number[] = [];
  /** Live allocations: user pointer -> block size (guards included). */
  private readonly sizes = new Map<number, number>();
  /** Guard bytes on each side of allocations made while `guardBytes` > 0 (debug builds). */
  private guardBytes = 0;
  private readonly guards = new Map<number, number>();

  /**
   * The step pipeline's record: PIPELINE_BYTES at `base` (at 16 for a base of 0: a kernel reads
   * address 0 as "no record"), outside liveBytes.
   */
  readonly pipeline: number;

  constructor(readonly memory: WebAssembly.Memory, readonly kernels: RawKernels, base = 64) {
    if (!Number.isInteger(base) || base < 0 || base % ALIGN !== 0) throw new RangeError(`Arena: base must be a non-negative multiple of ${ALIGN}, got ${base}`);
    this.pipeline = Math.max(base, ALIGN);
    const start = this.pipeline + PIPELINE_BYTES;
    const end = memory.buffer.byteLength;
    if (end < start) throw new RangeError(`Arena: the memory ends at ${end}, before the pipeline record at ${this.pipeline}..${start}`);
    if (end > start) this.insertFree(start, end - start);
  }

  /**
   * Debug aid: from now on, surround every allocation with `bytes` (a multiple of 16) of a known
   * pattern, checked on free and by `checkGuards()`, so a write past any block's end is caught.
   */
  setGuards(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 0 || bytes % ALIGN !== 0) {
      throw new RangeError(`Arena.setGuards: bytes must be a non-negative multiple of ${ALIGN}, got ${bytes}`);
    }
    this.guardBytes = bytes;
  }

  /** Throws if any guard region of a live allocation was overwritten. */
  checkGuards(): void {
    for (const [ptr, g] of this.guards) this.checkGuard(ptr, g);
  }

  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`Arena.alloc: bytes must be an integer >= 0, got ${bytes}`);
    const g = this.guardBytes;
    const payload = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    const size = payload + 2 * g;
    let best = -1;
    for (let i = 0; i < this.freeStart.length; i++) {
      if (this.freeSize[i] >= size && (best < 0 || this.freeSize[i] < this.freeSize[best])) best = i;
    }
    if (best < 0) best = this.grow(size);
    const ptr = this.freeStart[best];
    if (this.freeSize[best] === size) {
      this.freeStart.splice(best, 1);
      this.freeSize.splice(best, 1);
    } else {
      this.freeStart[best] += size;
      this.freeSize[best] -= size;
    }
    this.liveBytes += size;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    if (g) {
      const bytesView = new Uint8Array(this.memory.buffer);
      bytesView.fill(GUARD, ptr, ptr + g);
      bytesView.fill(GUARD, ptr + g + payload, ptr + size);
      this.guards.set(ptr + g, g);
    }
    this.sizes.set(ptr + g, size);
    return ptr + g;
  }

  free(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`wasm-optim: free of pointer ${ptr} that is not allocated (double dispose?)`);
    const g = this.guards.get(ptr) ?? 0;
    if (g) {
      this.checkGuard(ptr, g);
      this.guards.delete(ptr);
    }
    this.sizes.delete(ptr);
    this.liveBytes -= size;
    this.insertFree(ptr - g, size);
  }

  /** Size in bytes of the block at ptr (guards included), or undefined when ptr is not live. */
  sizeOf(ptr: number): number | undefined {
    return this.sizes.get(ptr);
  }

  private checkGuard(ptr: number, g: number): void {
    const size = this.sizes.get(ptr) as number;
    const bytesView = new Uint8Array(this.memory.buffer);
    for (const [from, to] of [[ptr - g, ptr], [ptr - g + size - g, ptr - g + size]]) {
      for (let i = from; i < to; i++) {
        if (bytesView[i] !== GUARD) {
          throw new Error(`wasm-optim: memory corruption: guard byte at ${i} around the block at ${ptr} was overwritten`);
        }
      }
    }
  }

  /** Number of free blocks (fragmentation indicator). */
  get freeBlocks(): number {
    return this.freeStart.length;
  }

  private grow(size: number): number {
    const end = this.memory.buffer.byteLength;
    const last = this.freeStart.length - 1;
    const tailFree = last >= 0 && this.freeStart[last] + this.freeSize[last] === end ? this.freeSize[last] : 0;
    const needPages = Math.ceil((size - tailFree) / PAGE);
    const curPages = end / PAGE;
    // Grow by a quarter of the current size at least, so many small allocations do not grow one page at a time.
    const pages = Math.min(Math.max(needPages, Math.ceil(curPages / 4)), MAX_PAGES - curPages);
    if (pages < needPages) {
      throw new RangeError(`wasm-optim: out of wasm memory: cannot allocate ${size} bytes (limit 4 GiB, ${this.liveBytes} bytes live)`);
    }
    let grown = pages;
    try {
      this.memory.grow(pages);
    } catch {
      // A memory with a smaller maximum (or a host short of memory): try exactly what is needed.
      try {
        this.memory.grow((grown = needPages));
      } catch {
        throw new RangeError(`wasm-optim: out of wasm memory: cannot allocate ${size} bytes (the memory cannot grow by ${needPages} pages of 64 KiB; ${this.liveBytes} bytes live)`);
      }
    }
    this.insertFree(end, grown * PAGE);
    return this.freeStart.length - 1;
  }

  private insertFree(start: number, size: number): void {
    let i = 0;
    while (i < this.freeStart.length && this.freeStart[i] < start) i++;
    this.freeStart.splice(i, 0, start);
    this.freeSize.splice(i, 0, size);
    // Coalesce with the next block, then with the previous one.
    if (i + 1 < this.freeStart.length && start + size === this.freeStart[i + 1]) {
      this.freeSize[i] += this.freeSize[i + 1];
      this.freeStart.splice(i + 1, 1);
      this.freeSize.splice(i + 1, 1);
    }
    if (i > 0 && this.freeStart[i - 1] + this.freeSize[i - 1] === start) {
      this.freeSize[i - 1] += this.freeSize[i];
      this.freeStart.splice(i, 1);
      this.freeSize.splice(i, 1);
    }
  }
}
