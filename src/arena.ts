// Allocator for the kernel module's linear memory. Blocks are 16-byte aligned (one v128), free
// space is kept as a sorted, coalesced list, and memory grows only when no free block fits.
// Allocation happens when variables and slots are created, never in a training step.

const ALIGN = 16;
const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB: the wasm32 limit

/** Where variables live: a linear memory, its kernels, and an allocator over it. */
export interface Heap {
  readonly memory: WebAssembly.Memory;
  readonly kernels: RawKernels;
  alloc(bytes: number): number;
  free(ptr: number): void;
}

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
  private readonly sizes = new Map<number, number>();

  constructor(readonly memory: WebAssembly.Memory, readonly kernels: RawKernels, base = 64) {
    const end = memory.buffer.byteLength;
    if (end > base) this.insertFree(base, end - base);
  }

  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
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
    this.sizes.set(ptr, size);
    this.liveBytes += size;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return ptr;
  }

  free(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`wasm-optim: free of pointer ${ptr} that is not allocated (double dispose?)`);
    this.sizes.delete(ptr);
    this.liveBytes -= size;
    this.insertFree(ptr, size);
  }

  /** Size in bytes of the block at ptr, or undefined when ptr is not a live allocation. */
  sizeOf(ptr: number): number | undefined {
    return this.sizes.get(ptr);
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
    this.memory.grow(pages);
    this.insertFree(end, pages * PAGE);
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
