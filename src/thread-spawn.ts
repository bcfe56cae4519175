// Starting kernel workers where the runtime has them (Node worker_threads, or a module Worker in
// Deno, Bun and browsers), and what the runtime allows (docs/threads.md).

/** A worker, whichever API made it. */
export interface WorkerHandle {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

// performance.now where there is one (every runtime we support), Date.now otherwise.
export const now: () => number = typeof performance !== 'undefined' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now();

/** True where this thread may block in Atomics.wait (not a browser page's main thread). */
export function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Null when this runtime can run kernel workers on a shared memory, else why not. */
export function threadSupport(): string | null {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    return 'SharedArrayBuffer is not available (a browser page needs cross-origin isolation: COOP same-origin + COEP require-corp)';
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    return `shared WebAssembly memory is not available (${String((e as { message?: unknown } | null)?.message ?? e)})`;
  }
  const g = globalThis as { Worker?: unknown; process?: { versions?: { node?: string } } };
  if (typeof g.Worker !== 'function' && !g.process?.versions?.node) return 'this runtime has no Worker';
  return null;
}

const NODE_WT = 'node:worker_threads';

export async function spawnWorker(url: URL, onFail: (why: string) => void): Promise<{ worker: WorkerHandle; started: Promise<void> }> {
  const Web = (globalThis as { Worker?: new (url: URL, options: { type: 'module' }) => WorkerHandle & EventTarget }).Worker;
  if (typeof Web === 'function') {
    const worker = new Web(url, { type: 'module' });
    // Bun's (and Deno's, where it has one) unref: the workers do not keep the process alive.
    (worker as { unref?: () => void }).unref?.();
    const started = new Promise<void>((resolve, reject) => {
      worker.addEventListener('message', () => resolve(), { once: true });
      worker.addEventListener('error', (e) => {
        const why = String((e as ErrorEvent).message ?? 'error event');
        reject(new Error(why));
        onFail(why);
      });
    });
    return { worker, started };
  }
  let wt: { Worker: new (url: URL) => WorkerHandle & { once(t: string, f: (x: unknown) => void): void; on(t: string, f: (x: unknown) => void): void; unref(): void } };
  try {
    wt = (await import(/* webpackIgnore: true */ /* @vite-ignore */ NODE_WT)) as typeof wt;
  } catch {
    throw new Error('no Worker constructor and no node:worker_threads in this runtime');
  }
  const worker = new wt.Worker(url);
  // Workers must not keep Node alive after training: the process exits by itself.
  worker.unref();
  const started = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.on('error', (e) => {
      const why = String((e as { message?: unknown } | null)?.message ?? e);
      reject(new Error(why));
      onFail(why);
    });
    worker.on('exit', (code) => {
      reject(new Error(`exited with code ${String(code)}`));
      onFail(`exited with code ${String(code)}`);
    });
  });
  return { worker, started };
}

/** `x`, or a rejection naming `what` after `ms` milliseconds. */
export function withTimeout<T>(x: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([x, t]).finally(() => clearTimeout(timer));
}
