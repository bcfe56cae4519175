// Shared by test/pipeline.test.mjs, test/kernel-pipeline.test.mjs and its threaded child
// (test/threads/fused-kernel.mjs): the base configurations, a training run that returns every number
// the optimizer and its variables hold, its bit-for-bit comparison, and
// two kernel() optimizers that fuse the step pipeline (AdaBelief as examples/custom-optimizers/
// adabelief.ts, Adam as assembly/adam.ts), the same class taking the separate passes, and a
// training run that returns every number the optimizer and its variables hold.
import * as assert from 'uvu/assert';
import { kernel, Optimizer, Variable } from '../../build/index.js';

// The first is longer than the fallback's chunk (2,048) with a tail that is not a multiple of 4; the last gets sparse gradients.
export const SHAPES = [[2503], [7, 13], [5], [9, 4]];

export const PIPE = { weight: 'w', gradient: 'g' };
/** examples/custom-optimizers/adabelief.ts's kernel (the test checks the signatures are equal). */
export const ADABELIEF = {
  name: 'adabelief',
  arrays: { w: 'inout', g: 'in', m: 'inout', s: 'inout' },
  scalars: ['omb1', 'omb2', 'eps', 'stepSize', 'epsHat'],
  pipeline: PIPE,
  body: ({ w, g, m, s }, { omb1, omb2, eps, stepSize, epsHat }) => {
    const m1 = m.add(g.sub(m).mul(omb1));
    const d = g.sub(m1);
    const s1 = s.add(d.mul(d).sub(s).mul(omb2)).add(eps);
    return { m: m1, s: s1, w: w.sub(stepSize.mul(m1).div(s1.sqrt().add(epsHat))) };
  },
};
/** Adam in the operation order of assembly/adam.ts. */
export const ADAM = {
  name: 'kadam',
  arrays: { w: 'inout', g: 'in', m: 'inout', v: 'inout' },
  scalars: ['omb1', 'omb2', 'alpha', 'eps'],
  pipeline: PIPE,
  body: ({ w, g, m, v }, { omb1, omb2, alpha, eps }) => {
    const m1 = m.add(g.sub(m).mul(omb1));
    const v1 = v.add(g.mul(g).sub(v).mul(omb2));
    return { m: m1, v: v1, w: w.sub(m1.mul(alpha).div(v1.sqrt().add(eps))) };
  },
};

/** The kernel of `spec` on one path: 'compiled', 'fallback' (compile: false) or 'precompiled'. */
export function kernelOn(spec, mode) {
  if (mode === 'compiled') return kernel(spec);
  const k = kernel({ ...spec, compile: false });
  if (mode === 'precompiled') k.fromModule(new WebAssembly.Module(kernel(spec).toBytes()));
  if (k.mode !== mode) throw new Error(`kernel '${spec.name}' runs '${k.mode}', not '${mode}'`);
  return k;
}

const NONE = new Float32Array(0);
export const f = Math.fround;

/** A kernel() Adam (beta1 0.9, beta2 0.999, epsilon 1e-7) with Adam's own scalars, fusing the pipeline. */
export function kernelAdam(k) {
  return class KernelAdam extends Optimizer {
    static className = 'KernelAdam';
    static fusesPipeline = true;
    arrays = { w: NONE, g: NONE, m: NONE, v: NONE };
    scalars = { omb1: 0, omb2: 0, alpha: 0, eps: 0 };
    build(variables) {
      for (const v of variables) {
        this.addVariableFromReference(v, 'm');
        this.addVariableFromReference(v, 'v');
      }
    }
    updateStep(gradient, variable, lr) {
      const t = this.iterations + 1;
      const a = this.arrays;
      a.w = variable;
      a.g = gradient;
      a.m = this.getSlot(variable, 'm');
      a.v = this.getSlot(variable, 'v');
      const s = this.scalars;
      s.omb1 = 1 - 0.9;
      s.omb2 = 1 - 0.999;
      s.alpha = f(f(lr * f(Math.sqrt(f(1 - f(Math.pow(f(0.999), t)))))) / f(1 - f(Math.pow(f(0.9), t))));
      s.eps = 1e-7;
      k.run(a, s, this.pipeline);
      a.w = a.g = a.m = a.v = NONE;
    }
  };
}

/** AdaBelief as examples/custom-optimizers/adabelief.ts writes it (default options), over `k`. */
export function kernelAdaBelief(k) {
  return class KernelAdaBelief extends Optimizer {
    static className = 'KernelAdaBelief';
    static fusesPipeline = true;
    arrays = { w: NONE, g: NONE, m: NONE, s: NONE };
    scalars = { omb1: 0, omb2: 0, eps: 0, stepSize: 0, epsHat: 0 };
    build(variables) {
      for (const v of variables) {
        this.addVariableFromReference(v, 'm');
        this.addVariableFromReference(v, 's');
      }
    }
    updateStep(gradient, variable, lr) {
      const t = this.iterations + 1;
      const sqrtBc2 = Math.sqrt(1 - Math.pow(0.999, t));
      const a = this.arrays;
      a.w = variable;
      a.g = gradient;
      a.m = this.getSlot(variable, 'm');
      a.s = this.getSlot(variable, 's');
      const s = this.scalars;
      s.omb1 = 1 - 0.9;
      s.omb2 = 1 - 0.999;
      s.eps = 1e-8;
      s.stepSize = (lr * sqrtBc2) / (1 - Math.pow(0.9, t));
      s.epsHat = 1e-8 * sqrtBc2;
      k.run(a, s, this.pipeline);
      a.w = a.g = a.m = a.s = NONE;
    }
  };
}

/** The same class with its own updateStep: classFusesPipeline is false, the base takes every pass. */
export const plainOf = (C) => class extends C {
  updateStep(g, v, lr) {
    super.updateStep(g, v, lr);
  }
};

export function rng(seed) {
  let s = seed;
  return () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5);
}

/**
 * The base options the pipeline folds, alone and combined (learning rates make every term count):
 * every fused-against-separate comparison runs each of them.
 */
export const BASE = [
  {},
  { weightDecay: 0.05 },
  { weightDecay: 0.05, globalClipnorm: 1 },
  { weightDecay: 0.05, globalClipnorm: 1, useEma: true },
  { clipnorm: 0.5, useEma: true, emaOverwriteFrequency: 3 },
  { clipvalue: 0.05, lossScaleFactor: 8, weightDecay: 0.01 }, // unscaled gradients reach 0.19: clamped
  { globalClipnorm: 1, lossScaleFactor: 4 }, // the norm needs the unscaled gradient: unscaled first
  { lossScaleFactor: 0.3, weightDecay: 0.01, useEma: true }, // a multiplier alone (1 / 0.3): the kernel's single-multiply path
  { gradientAccumulationSteps: 2, clipnorm: 1, weightDecay: 0.1, useEma: true },
  { skipNonFinite: true, weightDecay: 0.01, useEma: true },
];

/**
 * Runs `steps` steps and returns every number the optimizer and its variables hold. Variable 2 has
 * no gradient in step 1; variables 3 and 5 (if `shapes` has six) get sparse gradients with a
 * duplicate index; `nan`: a NaN in step 3 (skipNonFinite); `big`: a 3e38 in step 0 (finite, but not
 * once divided by a loss scale below 1).
 */
export function trajectory(make, { nan = false, big = false, shapes = SHAPES, steps = 5 } = {}) {
  const rnd = rng(7);
  const vars = shapes.map((shape, i) => new Variable(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd), { shape, name: `v${i}` }));
  const opt = make();
  for (let s = 0; s < steps; s++) {
    const pairs = vars.map((v, i) => {
      if (i === 2 && s === 1) return [null, v];
      if (i === 3) return [{ indices: [s % 9, 2, s % 9], values: Float32Array.from({ length: 12 }, () => rnd() * 3) }, v];
      if (i === 5) return [{ indices: [s * 7, 200, s * 7, 3], values: Float32Array.from({ length: 80 }, () => rnd() * 3) }, v];
      const g = Float32Array.from({ length: v.size }, () => rnd() * 3);
      if (nan && s === 3 && i === 0) g[5] = NaN;
      if (big && s === 0 && i === 1) g[7] = 3e38;
      return [g, v];
    });
    opt.applyGradients(pairs);
  }
  const state = opt.getState();
  const out = [...vars.map((v) => v.value.slice())];
  for (const name of Object.keys(state.variables).sort()) out.push(Float32Array.from(state.variables[name].values));
  out.push(new Float32Array([state.iterations, opt.nonFiniteSkips]));
  opt.dispose();
  for (const v of vars) v.dispose();
  return { out, names: Object.keys(state.variables).sort() };
}

/** Every array of two trajectories equal bit for bit (any NaN equals any NaN: its payload is not specified). */
export function sameBits(a, b, what) {
  assert.equal(a.names, b.names, `${what}: the same state variables`);
  assert.is(a.out.length, b.out.length, `${what}: as many arrays`);
  for (let i = 0; i < a.out.length; i++) {
    const x = new Uint32Array(a.out[i].buffer, a.out[i].byteOffset, a.out[i].length);
    const y = new Uint32Array(b.out[i].buffer, b.out[i].byteOffset, b.out[i].length);
    assert.is(x.length, y.length, `${what}: array ${i} length`);
    for (let j = 0; j < x.length; j++) {
      if (x[j] !== y[j] && !(Number.isNaN(a.out[i][j]) && Number.isNaN(b.out[i][j]))) {
        assert.unreachable(`${what}: array ${i} (${a.names[i - (a.out.length - 1 - a.names.length)] ?? `variable ${i}`}) element ${j}: fused ${a.out[i][j]} vs separate passes ${b.out[i][j]}`);
      }
    }
  }
}

