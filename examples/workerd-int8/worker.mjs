// A Cloudflare-style worker that fine-tunes a 10-million-parameter MLP (./mlp.mjs) on real MNIST
// digits with Adam, its state in float32 or in int8 (`?stateDtype=`), and reports the memory it used.
// wasm-optim arrives as the edge bundle plus optim.wasm as a module binding; the digits as a data
// module written by ./run.mjs (digits.bin, in the layout of ../data/digits-bytes.mjs).
//   GET /ready                                  loads the kernels; reports the memory so far
//   GET /fine-tune?stateDtype=int8&steps=16     one fine-tuning run (a fresh model each request)
import wasm from './optim.wasm';
import * as lib from './wasm-optim.js';
import digits from './digits.bin';
import { decodeDigits } from './digits-bytes.mjs';
import { createModel, disposeModel, gradientPairs, LAYERS, lossAndGradients, PARAMS } from './mlp.mjs';

const PAGE = 65536;
const BATCH = 8;

/**
 * The most wasm memory this isolate can have, in bytes, when it is capped below the wasm32 limit
 * (workerd's config `v8Flags = ["--wasm-max-mem-pages=N"]`), else null. Probed with a throwaway
 * memory: growing only reserves address space, so the probe costs no resident memory.
 */
function wasmMemoryCap() {
  const probe = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  let pages = 1;
  for (let step = 32768; step >= 1; step >>= 1) {
    try {
      probe.grow(step);
      pages += step;
    } catch {
      // too far: try half the step
    }
  }
  return pages < 65536 ? pages * PAGE : null;
}

function memory() {
  const heap = lib.defaultHeap();
  return { wasmMemoryBytes: heap.memory.buffer.byteLength, arenaLiveBytes: heap.liveBytes, arenaPeakBytes: heap.peakBytes };
}

// The fine-tuning set: the training digits of digits.bin (64 of them: 8 batches).
const fineTuneSet = () => decodeDigits(digits, 'MNIST').train;

function fineTune(stateDtype, steps) {
  const data = fineTuneSet();
  const before = lib.defaultHeap().liveBytes;
  const model = createModel(lib, { batch: BATCH });
  const modelBytes = lib.defaultHeap().liveBytes - before; // weights, gradients, activations
  const options = { learningRate: 1e-4 };
  // float32 is the default: the option is passed only for int8.
  const optimizer = new lib.Adam(stateDtype === 'float32' ? options : { ...options, stateDtype });
  const result = { stateDtype, params: PARAMS, layers: LAYERS, batch: BATCH, examples: data.count, modelBytes };
  try {
    const t0 = Date.now();
    const live = lib.defaultHeap().liveBytes;
    try {
      optimizer.prepare(model.variables); // builds the slots, as the first step would
    } catch (e) {
      // Adam's float32 state is 2 float32 slots per parameter.
      return { ...result, fits: false, error: String(e.message), stateBytesNeeded: 8 * PARAMS, ...memory() };
    }
    result.stateBytes = lib.defaultHeap().liveBytes - live;
    result.stateBytesPerParam = result.stateBytes / PARAMS;
    result.losses = [];
    let gradMs = 0;
    let stepMs = 0;
    for (let step = 0; step < steps; step++) {
      const k = (step * BATCH) % data.count;
      const x = data.images.subarray(k * LAYERS[0], (k + BATCH) * LAYERS[0]);
      const y = data.labels.subarray(k, k + BATCH);
      const t = Date.now();
      const loss = lossAndGradients(model, x, y, BATCH);
      const t1 = Date.now();
      optimizer.applyGradients(gradientPairs(model));
      gradMs += t1 - t;
      stepMs += Date.now() - t1;
      if (!Number.isFinite(loss)) throw new Error(`the loss is ${loss} at step ${step}`);
      result.losses.push(loss);
    }
    return { ...result, fits: true, iterations: optimizer.iterations, forwardBackwardMs: gradMs / steps, optimizerStepMs: stepMs / steps, ms: Date.now() - t0, ...memory() };
  } finally {
    optimizer.dispose();
    disposeModel(model);
  }
}

export default {
  async fetch(request) {
    await lib.ready(wasm);
    const url = new URL(request.url);
    if (url.pathname === '/ready') return Response.json({ wasmMemoryCap: wasmMemoryCap(), ...memory() });
    if (url.pathname !== '/fine-tune') return new Response('not found', { status: 404 });
    const stateDtype = url.searchParams.get('stateDtype') ?? 'float32';
    const steps = Number(url.searchParams.get('steps') ?? 16);
    try {
      return Response.json(fineTune(stateDtype, steps));
    } catch (e) {
      return Response.json({ stateDtype, error: String(e.stack ?? e) }, { status: 500 });
    }
  },
};
