// A 10-million-parameter MLP (784-2048-2048-2048-10, ReLU, softmax cross-entropy) whose weights,
// gradients and optimizer state all live in wasm-optim's wasm memory, trained with plain-JS forward
// and backward passes. Runtime-agnostic: `lib` is the wasm-optim module (the edge bundle in workerd,
// the package in Node). Used by ./worker.mjs.

export const LAYERS = [784, 2048, 2048, 2048, 10];

/** Parameters of the model: weights and biases of every layer. */
export const PARAMS = LAYERS.slice(1).reduce((n, out, l) => n + LAYERS[l] * out + out, 0);

/** Seeded uniform numbers in [0, 1) (the same generator as the demo's). */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The model: a kernel [in, out] (Keras layout) and a bias per layer as wasm-optim Variables, and a
 * gradient buffer of the same size for each, also in wasm memory (a gradient that is a view of wasm
 * memory is read in place by the optimizer: no staging copy). The activations and their gradients
 * for batches of up to `batch` examples are wasm memory too, allocated once here: a step allocates
 * no typed array, so the JavaScript heap does not grow with training. The weights are a seeded
 * He-uniform initialization, standing in for the pretrained weights a real worker would fetch.
 */
export function createModel(lib, { seed = 1, batch = 8 } = {}) {
  const rand = random(seed);
  const buffer = (n, name) => lib.Variable.zeros([n], { name });
  const layers = [];
  for (let l = 0; l + 1 < LAYERS.length; l++) {
    const [inputs, outputs] = [LAYERS[l], LAYERS[l + 1]];
    const kernel = lib.Variable.zeros([inputs, outputs], { name: `dense_${l}/kernel` });
    const bias = lib.Variable.zeros([outputs], { name: `dense_${l}/bias` });
    const limit = Math.sqrt(6 / inputs);
    const w = kernel.value;
    for (let i = 0; i < w.length; i++) w[i] = (2 * rand() - 1) * limit;
    layers.push({
      inputs,
      outputs,
      kernel,
      bias,
      kernelGrad: buffer(inputs * outputs, `dense_${l}/kernel_grad`),
      biasGrad: buffer(outputs, `dense_${l}/bias_grad`),
      output: buffer(batch * outputs, `dense_${l}/output`), // after the ReLU (the logits for the last layer)
      delta: buffer(batch * outputs, `dense_${l}/delta`), // dLoss/d(pre-activation)
    });
  }
  return { layers, batch, variables: layers.flatMap((L) => [L.kernel, L.bias]), pairs: null, pairsBuffer: null };
}

/** Frees the model's wasm memory. */
export function disposeModel(model) {
  for (const L of model.layers) for (const v of [L.kernel, L.bias, L.kernelGrad, L.biasGrad, L.output, L.delta]) v.dispose();
}

/**
 * One forward and backward pass over a batch (`x`: batch x 784 floats, `labels`): fills every
 * gradient buffer and returns the mean cross-entropy. `gradientPairs(model)` gives the (gradient,
 * variable) pairs for applyGradients.
 */
export function lossAndGradients(model, x, labels, batch) {
  const { layers } = model;
  if (batch > model.batch) throw new RangeError(`batch ${batch} > the model's ${model.batch}`);
  // Views are taken here, after any growth of the memory (`.value` re-derives them then).
  for (let l = 0; l < layers.length; l++) {
    const { inputs, outputs } = layers[l];
    const w = layers[l].kernel.value;
    const b = layers[l].bias.value;
    const input = l === 0 ? x : layers[l - 1].output.value;
    const out = layers[l].output.value;
    for (let s = 0; s < batch; s++) out.set(b, s * outputs);
    // Row i of the kernel is read once per batch; inputs that are 0 (ReLU, blank pixels) are skipped.
    for (let i = 0; i < inputs; i++) {
      const row = i * outputs;
      for (let s = 0; s < batch; s++) {
        const xi = input[s * inputs + i];
        if (xi === 0) continue;
        const o = s * outputs;
        for (let j = 0; j < outputs; j++) out[o + j] += xi * w[row + j];
      }
    }
    if (l + 1 < layers.length) for (let k = 0; k < batch * outputs; k++) if (out[k] < 0) out[k] = 0;
  }
  // Softmax cross-entropy; delta = dLoss/dlogits = (softmax - onehot) / batch.
  const last = layers[layers.length - 1];
  const classes = last.outputs;
  const logits = last.output.value;
  const top = last.delta.value;
  let loss = 0;
  for (let s = 0; s < batch; s++) {
    const o = s * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[o + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[o + c] - max);
    for (let c = 0; c < classes; c++) top[o + c] = Math.exp(logits[o + c] - max) / sum / batch;
    top[o + labels[s]] -= 1 / batch;
    loss -= logits[o + labels[s]] - max - Math.log(sum);
  }
  for (let l = layers.length - 1; l >= 0; l--) {
    const { inputs, outputs } = layers[l];
    const w = layers[l].kernel.value;
    const gw = layers[l].kernelGrad.value;
    const gb = layers[l].biasGrad.value;
    const delta = layers[l].delta.value;
    const input = l === 0 ? x : layers[l - 1].output.value;
    gb.fill(0);
    for (let s = 0; s < batch; s++) for (let j = 0; j < outputs; j++) gb[j] += delta[s * outputs + j];
    // The input's gradient (not needed for the first layer), through the ReLU of the layer below.
    const back = l > 0 ? layers[l - 1].delta.value : null;
    for (let i = 0; i < inputs; i++) {
      const row = i * outputs;
      gw.fill(0, row, row + outputs);
      for (let s = 0; s < batch; s++) {
        const xi = input[s * inputs + i];
        const d = s * outputs;
        if (xi !== 0) for (let j = 0; j < outputs; j++) gw[row + j] += xi * delta[d + j];
        if (back) {
          let dot = 0;
          if (xi > 0) for (let j = 0; j < outputs; j++) dot += w[row + j] * delta[d + j];
          back[s * inputs + i] = dot;
        }
      }
    }
  }
  return loss / batch;
}

/** The (gradient, variable) pairs for applyGradients: made once, again only after the memory grew. */
export function gradientPairs(model) {
  const buffer = model.layers[0].kernel.value.buffer;
  if (model.pairsBuffer !== buffer) {
    model.pairs = model.layers.flatMap((L) => [
      [L.kernelGrad.value, L.kernel],
      [L.biasGrad.value, L.bias],
    ]);
    model.pairsBuffer = buffer;
  }
  return model.pairs;
}
