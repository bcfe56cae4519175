// A custom optimizer whose update is a kernel(): AdaBelief (Zhuang et al., NeurIPS 2020).
// The body below runs once, on expression objects, to record the update; the library compiles it
// into one fused WebAssembly SIMD loop (docs/custom-optimizer.md, "Speed").
//   m = b1*m + (1-b1)*g;  s = b2*s + (1-b2)*(g-m)^2 + eps
//   w -= stepSize*m / (sqrt(s) + epsHat),  stepSize = lr*sqrt(1-b2^t)/(1-b1^t),  epsHat = eps*sqrt(1-b2^t)
// (the bias corrections folded into two per-step scalars, as examples/custom-kernel does).
// It takes the step pipeline: the loss-scale unscaling, clipping, weight decay and EMA of the base
// options run inside this one pass too (`pipeline` below, `fusesPipeline`, `this.pipeline`).
import { kernel, Optimizer, registerClass, type Config, type OptimizerOptions, type Variable } from 'wasm-optim';

export const adabeliefKernel = kernel({
  name: 'adabelief',
  arrays: { w: 'inout', g: 'in', m: 'inout', s: 'inout' },
  scalars: ['omb1', 'omb2', 'eps', 'stepSize', 'epsHat'],
  pipeline: { weight: 'w', gradient: 'g' },
  body: ({ w, g, m, s }, { omb1, omb2, eps, stepSize, epsHat }) => {
    const m1 = m.add(g.sub(m).mul(omb1));
    const d = g.sub(m1);
    const s1 = s.add(d.mul(d).sub(s).mul(omb2)).add(eps);
    return { m: m1, s: s1, w: w.sub(stepSize.mul(m1).div(s1.sqrt().add(epsHat))) };
  },
});

export interface AdaBeliefOptions extends OptimizerOptions {
  /** Default 0.9, in [0, 1). */
  beta1?: number;
  /** Default 0.999, in [0, 1). */
  beta2?: number;
  /** Default 1e-16 (the authors' default); added to s every step and to sqrt(shat). */
  epsilon?: number;
}

const NONE = new Float32Array(0);

export class AdaBelief extends Optimizer {
  static override readonly className = 'AdaBelief';
  static override readonly optionNames = ['beta1', 'beta2', 'epsilon']; // the options it adds: any other key is refused
  // updateStep gets the raw gradient and passes this.pipeline on: the kernel unscales, clips, decays and averages.
  static override readonly fusesPipeline: boolean = true;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  // The kernel's argument objects, made once and refilled every step: a step allocates nothing.
  private readonly arrays: { w: Variable | Float32Array; g: Float32Array; m: Variable | Float32Array; s: Variable | Float32Array } = { w: NONE, g: NONE, m: NONE, s: NONE };
  private readonly scalars = { omb1: 0, omb2: 0, eps: 0, stepSize: 0, epsHat: 0 };

  constructor(options: AdaBeliefOptions = {}) {
    super({ learningRate: 1e-3, ...options });
    const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-16 } = options;
    for (const [name, b] of [['beta1', beta1], ['beta2', beta2]] as const) {
      if (typeof b !== 'number' || !(b >= 0 && b < 1)) throw new RangeError(`AdaBelief: ${name} must be in [0, 1), got ${b}`);
    }
    if (typeof epsilon !== 'number' || !(epsilon >= 0 && epsilon < Infinity)) {
      throw new RangeError(`AdaBelief: epsilon must be a finite number >= 0, got ${epsilon}`);
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
  }

  override build(variables: readonly Variable[]): void {
    for (const v of variables) {
      this.addVariableFromReference(v, 'm');
      this.addVariableFromReference(v, 's');
    }
  }

  override updateStep(gradient: Float32Array, variable: Variable, learningRate: number): void {
    const t = this.iterations + 1;
    const sqrtBc2 = Math.sqrt(1 - Math.pow(this.beta2, t));
    const a = this.arrays;
    a.w = variable;
    a.g = gradient;
    a.m = this.getSlot(variable, 'm');
    a.s = this.getSlot(variable, 's');
    const s = this.scalars;
    s.omb1 = 1 - this.beta1;
    s.omb2 = 1 - this.beta2;
    s.eps = this.epsilon;
    s.stepSize = (learningRate * sqrtBc2) / (1 - Math.pow(this.beta1, t));
    s.epsHat = this.epsilon * sqrtBc2;
    adabeliefKernel.run(a, s, this.pipeline);
    a.w = a.g = a.m = a.s = NONE; // keep no reference to the variables between steps
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
registerClass(AdaBelief);
