// AdaBelief (Zhuang et al., NeurIPS 2020) as a wasm-optim optimizer whose update runs in its own
// AssemblyScript kernel (assembly/adabelief.ts), compiled against the library's memory.
// docs/custom-kernel.md walks through every line.
import { defaultHeap, Optimizer, registerClass, type Config, type OptimizerOptions, type Variable } from 'wasm-optim';

/** A kernel export: pointers are byte offsets into the memory, n counts float32 elements. */
type Kernel = (w: number, g: number, m: number, s: number, n: number, omb1: number, omb2: number, eps: number, stepSize: number, epsHat: number) => void;

/** What adabelief.wasm exports (and, with --noExportMemory, nothing else). */
interface AdaBeliefKernels {
  adabelief: Kernel;
  adabeliefScalar: Kernel;
}

let compiled: WebAssembly.Module | null = null;
// One instance per memory. The kernels keep no state, so an instance is only a binding to a memory.
const instances = new WeakMap<WebAssembly.Memory, AdaBeliefKernels>();
let useSimd = true;

/**
 * Compiles adabelief.wasm and instantiates it against `memory` (the library's default arena,
 * where every Variable created without an explicit heap lives). Call once, after `await ready()`.
 */
export async function loadAdaBeliefKernel(source: WebAssembly.Module | BufferSource, memory: WebAssembly.Memory = defaultHeap().memory): Promise<void> {
  // Not instanceof: a Module made in another realm (edge-runtime VMs) fails it.
  const isModule = Object.prototype.toString.call(source) === '[object WebAssembly.Module]';
  compiled = isModule ? (source as WebAssembly.Module) : await WebAssembly.compile(source as BufferSource);
  const instance = await WebAssembly.instantiate(compiled, { env: { memory } });
  instances.set(memory, instance.exports as unknown as AdaBeliefKernels);
}

/** Chooses the f32x4 kernel (default) or the scalar one; both give bit-identical results. */
export function setAdaBeliefSimd(on: boolean): void {
  useSimd = on;
}

/** The kernels bound to `memory`; variables in another heap (an integration's) get their own instance. */
function kernelsFor(memory: WebAssembly.Memory): AdaBeliefKernels {
  let k = instances.get(memory);
  if (!k) {
    if (!compiled) throw new Error('AdaBelief: call `await loadAdaBeliefKernel(wasmBytes)` before training');
    k = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as AdaBeliefKernels;
    instances.set(memory, k);
  }
  return k;
}

export interface AdaBeliefOptions extends OptimizerOptions {
  /** Default 0.9, in [0, 1). */
  beta1?: number;
  /** Default 0.999, in [0, 1). */
  beta2?: number;
  /** Default 1e-16 (the authors' default); added to s every step and to sqrt(shat). */
  epsilon?: number;
}

export class AdaBelief extends Optimizer {
  static override readonly className = 'AdaBelief';
  static override readonly optionNames = ['beta1', 'beta2', 'epsilon']; // the options it adds: any other key is refused
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

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
    const stepSize = (learningRate * sqrtBc2) / (1 - Math.pow(this.beta1, t));
    const k = kernelsFor(variable.heap.memory);
    // Pointers, never views: views of wasm memory are detached when it grows, pointers stay valid.
    (useSimd ? k.adabelief : k.adabeliefScalar)(
      variable.ptr,
      gradient.byteOffset,
      this.getSlot(variable, 'm').ptr,
      this.getSlot(variable, 's').ptr,
      variable.size,
      1 - this.beta1,
      1 - this.beta2,
      this.epsilon,
      stepSize,
      this.epsilon * sqrtBc2,
    );
  }

  override getConfig(): Config {
    return { ...super.getConfig(), beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
registerClass(AdaBelief);
