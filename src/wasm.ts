// Loading the kernel module. `ready()` instantiates optim.wasm once against a fresh memory and
// creates the default arena; every Variable created without an explicit heap lives there.
import { Arena, type Heap, type RawKernels } from './arena.js';

/** Anything `ready()` can load the kernels from. */
export type WasmSource =
  | WebAssembly.Module
  | BufferSource
  | URL
  | string
  | Response
  | PromiseLike<Response>;

let defaultArena: Arena | undefined;
let loading: Promise<void> | undefined;

// Not a type guard: WebAssembly.Module has no members, so narrowing on it would erase every object type.
const isModule = (x: unknown): boolean =>
  // instanceof fails for a Module from another realm (edge-runtime VMs), the tag does not.
  Object.prototype.toString.call(x) === '[object WebAssembly.Module]';

const isResponse = (x: unknown): x is Response =>
  typeof x === 'object' && x !== null && typeof (x as Response).arrayBuffer === 'function' && 'status' in x;

async function toModule(input: WasmSource): Promise<WebAssembly.Module> {
  const source = input as object | string;
  if (isModule(source)) return source as WebAssembly.Module;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source as BufferSource);
  if (typeof source === 'string' || source instanceof URL) {
    const url = source instanceof URL ? source : new URL(source, import.meta.url);
    const nodeVersion = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
    if (url.protocol === 'file:' && nodeVersion) {
      // Node's fetch cannot read file: URLs. Dynamic import keeps node:* out of browser bundles.
      const fs = await import('node:fs/promises');
      return WebAssembly.compile((await fs.readFile(url)) as Uint8Array<ArrayBuffer>);
    }
    return toModule(await fetch(url));
  }
  const res: unknown = await (source as PromiseLike<unknown>);
  if (!isResponse(res)) throw new TypeError('ready(source): expected a WebAssembly.Module, bytes, a URL or a Response');
  if (!res.ok) throw new Error(`ready(source): fetching the kernels failed with HTTP ${res.status}`);
  return WebAssembly.compile(await res.arrayBuffer());
}

/** Instantiates the kernel module against `memory` (the default arena's, or a foreign heap's). */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): RawKernels {
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  return inst.exports as unknown as RawKernels;
}

function install(module: WebAssembly.Module): void {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  defaultArena = new Arena(memory, instantiateKernels(module, memory));
}

let compiledModule: WebAssembly.Module | undefined;

/**
 * Loads and instantiates the kernels. Idempotent: later calls resolve at once. With no argument
 * the `optim.wasm` next to this module is used; pass a `WebAssembly.Module` (Cloudflare / Vercel
 * Edge module bindings), bytes, a URL or a Response to choose the source.
 */
export function ready(source?: WasmSource): Promise<void> {
  if (defaultArena) return Promise.resolve();
  if (!loading) {
    loading = toModule(source ?? new URL('./optim.wasm', import.meta.url)).then(
      (m) => {
        compiledModule = m;
        install(m);
      },
      (e: unknown) => {
        loading = undefined;
        throw e;
      },
    );
  }
  return loading;
}

/** Synchronous `ready()` for a Module or bytes already at hand. Idempotent. */
export function readySync(source: WebAssembly.Module | BufferSource): void {
  if (defaultArena) return;
  const m = isModule(source) ? (source as WebAssembly.Module) : new WebAssembly.Module(source as BufferSource);
  compiledModule = m;
  install(m);
}

/** True once `ready()` has finished. */
export function isReady(): boolean {
  return defaultArena !== undefined;
}

/** The compiled kernel module (to instantiate against another memory), after `ready()`. */
export function kernelModule(): WebAssembly.Module {
  if (!compiledModule) throw notReady();
  return compiledModule;
}

/** The default arena. Throws a clear error when `ready()` has not completed. */
export function defaultHeap(): Arena {
  if (!defaultArena) throw notReady();
  return defaultArena;
}

function notReady(): Error {
  return new Error('wasm-optim is not ready: call `await ready()` once before creating variables or optimizers');
}

/** Switches every kernel between the f32x4 SIMD loop (default) and the scalar loop. */
export function setSimdEnabled(on: boolean): void {
  defaultHeap().kernels.setSimd(on ? 1 : 0);
}

export type { Heap };
