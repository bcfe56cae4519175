// What the tfjs integration reads from the backends. The zero-copy path uses internals of
// tfjs-backend-wasm 4.x that are not public API, so each one is probed, and the whole path is
// self-tested once per backend (offsets, in-place writes, the XNNPACK packed-weight cache) before
// it is trusted. Anything missing or failing means the copy path, with a one-time warning.
import * as tf from '@tensorflow/tfjs-core';
import { type Heap, type RawKernels, instantiateKernels, kernelModule } from '../index.js';
import { PIPELINE_BYTES } from '../arena.js';

/** The bookkeeping tfjs-backend-wasm keeps per tensor data (its `dataIdMap` values). */
export interface WasmTensorData {
  /** The C++-side tensor id (XNNPACK caches are keyed by it). */
  readonly id: number;
  readonly memoryOffset: number;
  readonly refCount: number;
}

interface EmscriptenModule {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _register_tensor?: (id: number, size: number, memoryOffset: number) => void;
  _dispose_data?: (id: number) => void;
  tfjs?: { registerTensor?: (id: number, size: number, memoryOffset: number) => void; disposeData?: (id: number) => void };
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
  wasmExports?: { memory?: WebAssembly.Memory };
}

interface WasmBackendInternals {
  wasm: EmscriptenModule | null;
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
}

interface CpuBackendInternals {
  data: { get(dataId: object): { values?: unknown } | undefined };
}

/** A Heap over the tfjs wasm backend's own memory: our kernels instantiated against it, malloc/free from emscripten. */
export class TfjsWasmHeap implements Heap {
  readonly kernels: RawKernels;
  /** The step pipeline's record (src/arena.ts), in the backend's memory for as long as this heap lives. */
  readonly pipeline: number;
  private readonly register: (id: number, size: number, memoryOffset: number) => void;
  private readonly unregister: (id: number) => void;

  constructor(
    private readonly backend: WasmBackendInternals,
    private readonly module: EmscriptenModule,
    readonly memory: WebAssembly.Memory,
    kernels: RawKernels,
  ) {
    this.kernels = kernels;
    const M = module;
    // The raw exports take plain numbers; the cwrap'd ones allocate an argument array per call.
    this.register = M._register_tensor ?? (M.tfjs?.registerTensor as (id: number, size: number, off: number) => void);
    this.unregister = M._dispose_data ?? (M.tfjs?.disposeData as (id: number) => void);
    this.pipeline = this.alloc(PIPELINE_BYTES);
  }

  alloc(bytes: number): number {
    const ptr = this.module._malloc(bytes) >>> 0; // >>> 0: malloc returns a signed int above 2 GiB
    if (ptr === 0) throw new RangeError(`wasm-optim/tfjs: the tfjs wasm heap cannot allocate ${bytes} bytes`);
    return ptr;
  }

  free(ptr: number): void {
    // After tf.removeBackend the module is gone, and so is all of its memory.
    if (this.backend.wasm) this.module._free(ptr);
  }

  /** The backend's record of a tensor's data (moved onto this backend first if it lives elsewhere). */
  data(dataId: object): WasmTensorData {
    const d = this.backend.dataIdMap.get(dataId);
    if (!d) throw new Error('wasm-optim/tfjs: a tensor has no data on the wasm backend');
    return d;
  }

  /**
   * Makes an in-place write visible to matMul/conv2d: XNNPACK keeps weights packed per C++ tensor
   * id and drops the packing only when that id is disposed. Disposing the id on the C++ side
   * erases its bookkeeping and runs those callbacks but frees no memory (JS owns the bytes).
   */
  refresh(id: number, size: number, memoryOffset: number): void {
    this.unregister(id);
    this.register(id, size, memoryOffset);
  }
}

const heaps = new WeakMap<object, TfjsWasmHeap | string>();

/**
 * The zero-copy heap of a tfjs-backend-wasm backend, or the reason it cannot be used. Probed and
 * self-tested once per backend; must be called while `backend` is the active one.
 */
export function wasmHeapFor(backend: tf.KernelBackend): TfjsWasmHeap | string {
  let h = heaps.get(backend);
  if (h === undefined) {
    try {
      h = probe(backend as unknown as WasmBackendInternals);
    } catch (e) {
      h = `the zero-copy self-test threw: ${e instanceof Error ? e.message : String(e)}`;
    }
    heaps.set(backend, h);
  }
  return h;
}

function probe(b: WasmBackendInternals): TfjsWasmHeap | string {
  const M = b.wasm;
  if (!M || typeof M._malloc !== 'function' || typeof M._free !== 'function') return 'the backend exposes no _malloc/_free';
  if (!b.dataIdMap || typeof b.dataIdMap.get !== 'function') return 'the backend has no dataIdMap';
  const hasRegister = typeof M._register_tensor === 'function' || typeof M.tfjs?.registerTensor === 'function';
  const hasDispose = typeof M._dispose_data === 'function' || typeof M.tfjs?.disposeData === 'function';
  if (!hasRegister || !hasDispose) return 'the backend exposes no register_tensor/dispose_data';
  const memory = M.wasmMemory ?? M.asm?.memory ?? M.wasmExports?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return 'the backend\'s WebAssembly.Memory is not reachable';
  if (typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer) {
    return 'the backend uses shared memory (multi-threaded build); the kernel module is built for plain memory';
  }
  // Instantiating a module that has data segments would overwrite emscripten's memory. Ours has
  // none (a test checks the binary); this guard restores the bytes if that ever changes.
  const span = Math.min(memory.buffer.byteLength, 1 << 20);
  const before = new Uint8Array(memory.buffer, 0, span).slice();
  let kernels: RawKernels;
  try {
    kernels = instantiateKernels(kernelModule(), memory);
  } catch (e) {
    return `the kernel module cannot be instantiated against the backend's memory (${e instanceof Error ? e.message : String(e)})`;
  }
  const after = new Uint8Array(memory.buffer, 0, span);
  for (let i = 0; i < span; i++) {
    if (after[i] !== before[i]) {
      after.set(before);
      return 'the kernel module wrote into the backend\'s memory when instantiated (data segments)';
    }
  }
  const heap = new TfjsWasmHeap(b, M, memory, kernels);
  return selfTest(heap) ?? heap;
}

/** Writes a weight in place and checks that matMul and conv2d see it: the exact mechanism each step relies on. */
function selfTest(heap: TfjsWasmHeap): string | null {
  const failure = tf.tidy((): string => {
    const x = tf.tensor2d([2], [1, 1]);
    const w = tf.tensor2d([1.5], [1, 1]);
    const x4 = tf.tensor4d([2], [1, 1, 1, 1]);
    const f4 = tf.tensor4d([1.5], [1, 1, 1, 1]);
    if (tf.matMul(x, w).dataSync()[0] !== 3 || tf.conv2d(x4, f4, 1, 'valid').dataSync()[0] !== 3) {
      return 'matMul/conv2d gave unexpected results';
    }
    for (const t of [w, f4]) {
      const d = heap.data(t.dataId);
      const view = new Float32Array(heap.memory.buffer, d.memoryOffset, 1);
      if (view[0] !== 1.5) return 'tensor offsets do not point at the tensor data';
      view[0] = 2.5;
      heap.refresh(d.id, 1, d.memoryOffset);
      if (t.dataSync()[0] !== 2.5) return 'an in-place write is not visible to dataSync';
    }
    if (tf.matMul(x, w).dataSync()[0] !== 5 || tf.conv2d(x4, f4, 1, 'valid').dataSync()[0] !== 5) {
      return 'weights written in place stay invisible to matMul/conv2d (packed-weight cache not refreshed)';
    }
    return '';
  });
  return failure || null;
}

/** The cpu backend's live value array of a float32 tensor (what matMul reads), or null. */
export function cpuValues(backend: tf.KernelBackend, dataId: object, size: number): Float32Array | null {
  const values = (backend as unknown as CpuBackendInternals).data?.get(dataId)?.values;
  return values instanceof Float32Array && values.length === size ? values : null;
}

export function isCpuBackend(backend: tf.KernelBackend): boolean {
  return typeof (backend as unknown as CpuBackendInternals).data?.get === 'function';
}

const warned = new Set<string>();

/** console.warn, once per message. */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}
