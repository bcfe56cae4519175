// wasm-optim: training optimizers with fused in-place WebAssembly SIMD kernels.
export { ready, readySync, isReady, setSimdEnabled, kernelModule, instantiateKernels, defaultHeap, type WasmSource } from './wasm.js';
export { Arena, type Heap, type RawKernels, type KernelFn } from './arena.js';
export { Variable, type VariableOptions } from './variable.js';
export {
  Optimizer,
  type OptimizerOptions,
  type OptimizerState,
  type Gradient,
  type GradientVariablePair,
  type LearningRate,
  type SparseGradient,
  type UniqueSparseGradient,
} from './optimizer.js';
export { kernels } from './kernels.js';
export { registerClass, deserialize, getRegisteredClass, type Config, type ConfigValue, type SerializedObject, type SerializableClass } from './registry.js';
export { LearningRateSchedule } from './schedules/schedule.js';
export { SGD, type SGDOptions } from './optimizers/sgd.js';
export { Adam, type AdamOptions } from './optimizers/adam.js';
export { AdamW, type AdamWOptions } from './optimizers/adamw.js';
export { Adamax, type AdamaxOptions } from './optimizers/adamax.js';
export { Nadam, type NadamOptions } from './optimizers/nadam.js';
// keras-optimizers exports
// extra-optimizers exports
// schedules exports
// reliability exports
