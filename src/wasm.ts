// Loading the kernel module. `ready()` instantiates optim.wasm once against a fresh memory and
// creates the default arena; every Variable created without an explicit heap lives there.
//
// Where the module comes from depends on the runtime (docs/runtimes.md):
// - Node, Deno, Bun, browsers: `ready()` finds optim.wasm next to this file via import.meta.url.
// - Cloudflare workerd, Vercel Edge: compiling wasm from bytes is forbidden and import.meta.url is
//   not a URL, so the app imports optim.wasm as a module binding and calls `ready(module)`.
// - Bundlers that cannot copy assets: the `wasm-optim/inline` entry passes embedded bytes.
import { Arena, type Heap, type RawKernels } from './arena.js';
import { ARENA_BASE, DEFAULT_MIN_ELEMENTS, DEFAULT_TIMEOUT_MS, setFallbackReason, startPool, threadCount, threadedKernels, threadFallbackReason, threadSupport } from './threads.js';

/** Anything `ready()` can load the kernels from. */
export type WasmSource =
  | WebAssembly.Module
  | BufferSource
  | URL
  | string
  | Response
  | PromiseLike<Response>;

/** What ready({ threads }) accepts. */
export interface ThreadOptions {
  /** Threads in all, the calling one included (an integer from 1 to 64). */
  threads: number;
  /** Where the single-threaded kernels come from, as ready(source) (also the fallback). */
  source?: WasmSource;
  /** Where the shared-memory kernels come from (default: optim-threads.wasm next to this module). */
  threadsSource?: WasmSource;
  /** Calls over fewer elements stay on the calling thread (default 262144). */
  minElements?: number;
  /** Milliseconds a slice may take before its worker is declared crashed (default 30000). */
  timeoutMs?: number;
}

let defaultArena: Arena | undefined;
let loading: Promise<void> | undefined;
let compiledModule: WebAssembly.Module | undefined;

const MODULE_HINT =
  'import optim.wasm as a module (Cloudflare: `import wasm from "wasm-optim/optim.wasm"`, ' +
  'Vercel Edge: `import wasm from "wasm-optim/optim.wasm?module"`) and call ready(wasm)';

// instanceof fails for objects from another realm (edge-runtime VMs, iframes); the tag does not.
const tagOf = (x: unknown): string => Object.prototype.toString.call(x);

// Not a type guard: WebAssembly.Module has no members, so narrowing on it would erase every object type.
const isModule = (x: unknown): boolean => tagOf(x) === '[object WebAssembly.Module]';

const isBytes = (x: unknown): x is BufferSource => ArrayBuffer.isView(x) || tagOf(x) === '[object ArrayBuffer]';

const isResponse = (x: unknown): x is Response =>
  typeof x === 'object' && x !== null && typeof (x as Response).arrayBuffer === 'function' && 'status' in x;

/** Compiles bytes, explaining the error of runtimes that forbid it (workerd, Vercel Edge). */
async function compile(bytes: BufferSource): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes);
  } catch (e) {
    throw explain(e);
  }
}

function explain(e: unknown): unknown {
  const message = String((e as { message?: unknown } | null)?.message ?? '');
  if (!/code generation disallowed|disallowed by embedder/i.test(message)) return e;
  return new Error(`wasm-optim: this runtime forbids compiling WebAssembly from bytes (${message}); ${MODULE_HINT}`, {
    cause: e,
  });
}

/** The optim.wasm next to this module. Throws (with the fix) where there is no module URL. */
function besideThisModule(): URL {
  try {
    // This literal form is what Vite and webpack 5 recognise to emit optim.wasm as an asset.
    return new URL('./optim.wasm', import.meta.url);
  } catch (e) {
    // import.meta.url is undefined in workerd, and in IIFE/CommonJS bundles where esbuild empties import.meta.
    throw new Error(`wasm-optim: ready() cannot locate optim.wasm here (import.meta.url is not set); ${MODULE_HINT}, or use 'wasm-optim/inline'`, {
      cause: e,
    });
  }
}

// A specifier bundlers do not follow: browser builds must not try to resolve node:fs.
const NODE_FS = 'node:fs/promises';

async function fromUrl(url: URL): Promise<WebAssembly.Module> {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (url.protocol === 'file:' && proc?.versions?.node) {
    // Node's fetch cannot read file: URLs (Deno and Bun also take this path, which they support).
    const fs = (await import(/* webpackIgnore: true */ /* @vite-ignore */ NODE_FS)) as {
      readFile(path: URL): Promise<Uint8Array>;
    };
    return compile((await fs.readFile(url)) as Uint8Array<ArrayBuffer>);
  }
  return fromResponse(await fetch(url));
}

async function fromResponse(res: Response): Promise<WebAssembly.Module> {
  if (!res.ok) throw new Error(`wasm-optim: fetching the kernels failed with HTTP ${res.status}${res.url ? ` (${res.url})` : ''}`);
  return compile(await res.arrayBuffer());
}

async function toModule(source: WasmSource | undefined): Promise<WebAssembly.Module> {
  if (source === undefined) return fromUrl(besideThisModule());
  if (isModule(source)) return source as WebAssembly.Module;
  if (isBytes(source)) return compile(source);
  if (typeof source === 'string') return fromUrl(new URL(source, (import.meta as { url?: string }).url || undefined));
  if (tagOf(source) === '[object URL]') return fromUrl(source as URL);
  const res: unknown = await (source as PromiseLike<unknown>);
  if (!isResponse(res)) {
    throw new TypeError('ready(source): expected a WebAssembly.Module, bytes (ArrayBuffer or a view), a URL, a Response or a Promise of one');
  }
  return fromResponse(res);
}

/** Instantiates the kernel module against `memory` (the default arena's, or a foreign heap's). */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): RawKernels {
  // Instantiating an already compiled module is allowed everywhere, workerd and Vercel Edge included.
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  return inst.exports as unknown as RawKernels;
}

function install(module: WebAssembly.Module): void {
  if (defaultArena) return; // readySync() won while ready() was loading: keep the first arena
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  const arena = new Arena(memory, instantiateKernels(module, memory));
  compiledModule = module;
  defaultArena = arena;
}

const THREAD_OPTIONS = ['threads', 'source', 'threadsSource', 'minElements', 'timeoutMs'];

/** A plain object naming one of ready()'s options: ready({ threads }), as opposed to a WasmSource. */
function isThreadOptions(x: unknown): x is ThreadOptions {
  if (typeof x !== 'object' || x === null || tagOf(x) !== '[object Object]' || isResponse(x)) return false;
  return typeof (x as PromiseLike<unknown>).then !== 'function' && Object.keys(x).some((k) => THREAD_OPTIONS.includes(k));
}

/** Checks ready()'s options (read once, snapshotted) with errors naming the option. */
function threadOptions(o: ThreadOptions): Required<Pick<ThreadOptions, 'threads' | 'minElements' | 'timeoutMs'>> & Pick<ThreadOptions, 'source' | 'threadsSource'> {
  for (const k of Object.keys(o)) {
    if (!THREAD_OPTIONS.includes(k)) throw new TypeError(`ready(options): unknown option '${k}' (expected one of ${THREAD_OPTIONS.join(', ')})`);
  }
  const threads = o.threads;
  const minElements = o.minElements === undefined ? DEFAULT_MIN_ELEMENTS : o.minElements;
  const timeoutMs = o.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : o.timeoutMs;
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new RangeError(`ready(options): threads must be an integer from 1 to 64, got ${String(threads)}`);
  }
  if (typeof minElements !== 'number' || !Number.isInteger(minElements) || minElements < 4) {
    throw new RangeError(`ready(options): minElements must be an integer >= 4, got ${String(minElements)}`);
  }
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs === Infinity) {
    throw new RangeError(`ready(options): timeoutMs must be a finite number > 0, got ${String(timeoutMs)}`);
  }
  return { threads, minElements, timeoutMs, source: o.source, threadsSource: o.threadsSource };
}

/**
 * Loads and instantiates the kernels. Idempotent: once it has succeeded, later calls resolve at
 * once (and ignore their argument); after a failure the next call tries again.
 *
 * - no argument: the `optim.wasm` next to this module (Node, Deno, Bun, browsers);
 * - a `WebAssembly.Module`: the way for Cloudflare workerd and Vercel Edge (a wasm module binding);
 * - bytes, a URL (a string is resolved against this module) or a `Response` / `Promise<Response>`;
 * - `{ threads: n, ... }`: multi-core kernels (docs/threads.md): the default arena on a shared
 *   memory and n - 1 workers; where that is not possible, one thread (see threadCount()). Must be
 *   the first call: a later one finds the arena made and ignores its options like any other.
 */
export function ready(source?: WasmSource | ThreadOptions): Promise<void> {
  let threaded: ReturnType<typeof threadOptions> | null = null;
  if (isThreadOptions(source)) {
    try {
      threaded = threadOptions(source);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  if (defaultArena) {
    if (threaded !== null && threaded.threads > 1 && threadCount() === 1 && threadFallbackReason() === null) {
      setFallbackReason('ready() had already been called without threads; ready({ threads }) must be the first call');
    }
    return Promise.resolve();
  }
  if (!loading) {
    const work = threaded !== null ? readyThreads(threaded) : toModule(source as WasmSource | undefined).then(install);
    loading = work.catch((e: unknown) => {
      loading = undefined;
      throw e;
    });
  }
  return loading;
}

async function readyThreads(o: ReturnType<typeof threadOptions>): Promise<void> {
  // The plain kernels are needed anyway: kernelModule() (foreign heaps such as tfjs') and the fallback.
  const plain = await toModule(o.source);
  if (o.threads === 1) return install(plain);
  const unsupported = threadSupport();
  if (unsupported !== null) {
    setFallbackReason(unsupported);
    return install(plain);
  }
  let shared: WebAssembly.Module;
  try {
    shared = await toModule((o.threadsSource ?? new URL('./optim-threads.wasm', import.meta.url)) as WasmSource);
  } catch (e) {
    setFallbackReason(`the shared-memory kernels could not be loaded (${String((e as { message?: unknown } | null)?.message ?? e)})`);
    return install(plain);
  }
  if (defaultArena) return;
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
  const raw = instantiateKernels(shared, memory);
  const pool = await startPool(o.threads, shared, memory, raw, o);
  if (defaultArena) {
    if (typeof pool !== 'string') pool.shutdown();
    return;
  }
  if (typeof pool === 'string') {
    setFallbackReason(pool);
    return install(plain);
  }
  setFallbackReason(null);
  compiledModule = plain;
  defaultArena = new Arena(memory, threadedKernels(raw, pool), ARENA_BASE);
}

/** Synchronous `ready()` for a Module or bytes already at hand. Idempotent. */
export function readySync(source: WebAssembly.Module | BufferSource): void {
  if (defaultArena) return;
  if (isModule(source)) return install(source as WebAssembly.Module);
  if (!isBytes(source)) throw new TypeError('readySync(source): expected a WebAssembly.Module or bytes (ArrayBuffer or a view)');
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(source);
  } catch (e) {
    throw explain(e);
  }
  install(module);
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
  if (typeof on !== 'boolean') throw new TypeError(`setSimdEnabled: on must be a boolean, got ${typeof on}`);
  defaultHeap().kernels.setSimd(on ? 1 : 0);
}

export type { Heap };
export { threadCount, threadFallbackReason, shutdownThreads } from './threads.js';
