// A Vercel-Edge-style function: wasm-optim's edge bundle, and optim.wasm as a module binding. On
// Vercel that is `import wasm from 'wasm-optim/optim.wasm?module'`; edge-runtime cannot bundle,
// so host.mjs compiles the module outside the VM and passes it in as the global OPTIM_WASM.
import * as lib from '../../../build/bundle/wasm-optim.edge.js';
import { fineTune } from '../linear.mjs';
import { kernelSubset } from '../kernel-subset.mjs';

const EMPTY_MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);

async function attempt(fn) {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    return String(e.message);
  }
}

async function handle(request) {
  const url = new URL(request.url);
  const checks = {
    // A Module made in another realm is not `instanceof` this realm's WebAssembly.Module.
    moduleInstanceof: OPTIM_WASM instanceof WebAssembly.Module,
    // Code generation from bytes is off, as in production.
    rawCompile: await attempt(() => WebAssembly.compile(EMPTY_MODULE)),
    readyDefault: await attempt(() => lib.ready()),
    readyBytes: await attempt(() => lib.ready(EMPTY_MODULE)),
  };
  // Threads requested: edge functions have no Worker, so this falls back to one thread (docs/threads.md).
  await lib.ready({ threads: 2, source: OPTIM_WASM });
  checks.threadCount = lib.threadCount();
  checks.threadFallbackReason = lib.threadFallbackReason();
  if (url.searchParams.has('kernel')) {
    // kernel(): compiling is refused here, so the fallback runs; KERNEL_MODULES are the precompiled ones.
    return new Response(JSON.stringify({ checks, kernel: kernelSubset(lib, { modules: KERNEL_MODULES }) }), { headers: { 'content-type': 'application/json' } });
  }
  const steps = Number(url.searchParams.get('steps') ?? 300);
  return new Response(JSON.stringify({ runtime: 'edge-runtime, wasm code generation off', checks, results: fineTune(lib, { steps }) }), {
    headers: { 'content-type': 'application/json' },
  });
}

addEventListener('fetch', (event) => event.respondWith(handle(event.request)));
