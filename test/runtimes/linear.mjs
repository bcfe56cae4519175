// A small linear-regression fine-tuning task that every runtime runs the same way (Node, workerd,
// edge-runtime, Chromium). It takes the library as an argument, so each runtime can load it its own
// way (a module binding, a URL, a bundle). Data and gradients use only + - * / and integer hashing,
// which IEEE-754 makes identical everywhere: the weights must match Node's bit for bit.

/** Uniform floats in [-1, 1) from a 32-bit counter hash (no Math.random, no transcendental functions). */
export function uniform(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 16), 0x21f0aaad);
    t = Math.imul(t ^ (t >>> 15), 0x735a2d97);
    t = (t ^ (t >>> 15)) >>> 0;
    return t / 2147483648 - 1;
  };
}

/** FNV-1a over the bits of Float32Arrays: one number that changes if any bit does. */
export function digest(...arrays) {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

const OPTIMIZERS = {
  Adam: (lib) => new lib.Adam({ learningRate: 0.02 }),
  AdamW: (lib) => new lib.AdamW({ learningRate: 0.02, weightDecay: 0.01 }),
  Nadam: (lib) => new lib.Nadam({ learningRate: 0.02, clipnorm: 1 }),
  SGD: (lib) => new lib.SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
};

/**
 * Fine-tunes y = x.w + b (full-batch MSE) from slightly wrong "pretrained" weights for `steps`
 * steps with each optimizer. Returns, per optimizer, the loss before and after, a few losses on
 * the way, the final weights (as numbers, exact float32 values) and their digest.
 */
export function fineTune(lib, { steps = 300, features = 16, samples = 256, seed = 42, optimizers = Object.keys(OPTIMIZERS) } = {}) {
  const rand = uniform(seed);
  const X = new Float32Array(samples * features).map(() => rand());
  const wTrue = new Float32Array(features).map(() => rand());
  const y = new Float32Array(samples);
  for (let i = 0; i < samples; i++) {
    let s = 0.5;
    for (let j = 0; j < features; j++) s += X[i * features + j] * wTrue[j];
    y[i] = s + 0.05 * rand();
  }
  const pretrained = wTrue.map((w) => w + 0.5 * rand());
  const gw = new Float32Array(features);
  const gb = new Float32Array(1);
  const r = new Float64Array(samples);

  // Loss at the current weights; also fills the gradients when asked.
  const lossAndGrad = (w, b, withGrad) => {
    let loss = 0;
    for (let i = 0; i < samples; i++) {
      let s = b[0];
      for (let j = 0; j < features; j++) s += X[i * features + j] * w[j];
      r[i] = s - y[i];
      loss += r[i] * r[i];
    }
    if (withGrad) {
      let sb = 0;
      for (let j = 0; j < features; j++) {
        let s = 0;
        for (let i = 0; i < samples; i++) s += X[i * features + j] * r[i];
        gw[j] = (2 * s) / samples;
      }
      for (let i = 0; i < samples; i++) sb += r[i];
      gb[0] = (2 * sb) / samples;
    }
    return loss / samples;
  };

  const results = {};
  for (const name of optimizers) {
    const w = new lib.Variable(pretrained, { name: 'w', shape: [features, 1] });
    const b = new lib.Variable([0], { name: 'b' });
    const opt = OPTIMIZERS[name](lib);
    const losses = [];
    const t0 = Date.now();
    for (let step = 0; step < steps; step++) {
      const loss = lossAndGrad(w.value, b.value, true);
      if (step % 50 === 0) losses.push(loss);
      opt.applyGradients([[gw, w], [gb, b]]);
    }
    const finalLoss = lossAndGrad(w.value, b.value, false);
    results[name] = {
      loss0: losses[0],
      finalLoss,
      losses,
      iterations: opt.iterations,
      weights: [...w.value, ...b.value],
      digest: digest(w.value, b.value),
      ms: Date.now() - t0,
    };
    opt.dispose();
    w.dispose();
    b.dispose();
  }
  return results;
}
