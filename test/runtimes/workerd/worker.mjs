// A Cloudflare-style worker: wasm-optim's edge bundle plus optim.wasm as a module binding.
// Each request fine-tunes the linear model of ../linear.mjs and answers with the weights.
import wasm from './optim.wasm';
import * as lib from './wasm-optim.js';
import { fineTune } from './linear.mjs';
import { kernelSubset } from './kernel-subset.mjs';
import adabelief from './adabelief.wasm';
import mix from './mix.wasm';
import rSum from './r_sum.wasm';
import rSumOfSquares from './r_sumOfSquares.wasm';
import rMax from './r_max.wasm';
import rMaxAbs from './r_maxAbs.wasm';

// kernel()'s modules, compiled ahead of time (`wasm-optim compile`): workerd cannot compile them.
const kernelModules = { adabelief, mix, r_sum: rSum, r_sumOfSquares: rSumOfSquares, r_max: rMax, r_maxAbs: rMaxAbs };

// What the unsupported ways of loading report here (checked once, before the module binding loads).
async function refusal(source) {
  try {
    await lib.ready(source);
    return 'loaded';
  } catch (e) {
    return String(e.message);
  }
}

let refusals;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (!lib.isReady()) {
      refusals = {
        // No argument: looks for optim.wasm beside the module, but import.meta.url is undefined here.
        default: await refusal(),
        // Bytes: compiling at runtime is forbidden. (An empty module: the 8-byte header.)
        bytes: await refusal(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])),
      };
      // Threads requested: workerd has no Worker (nor shared memory), so one thread (docs/threads.md).
      await lib.ready({ threads: 2, source: wasm });
      refusals.threads = { count: lib.threadCount(), reason: lib.threadFallbackReason() };
    }
    if (url.searchParams.has('kernel')) return Response.json({ runtime: 'workerd', kernel: kernelSubset(lib, { modules: kernelModules }) });
    const steps = Number(url.searchParams.get('steps') ?? 300);
    const results = fineTune(lib, { steps });
    return Response.json({
      runtime: 'workerd',
      moduleIsModule: wasm instanceof WebAssembly.Module,
      importMetaUrl: typeof import.meta.url,
      refusals,
      results,
    });
  },
};
