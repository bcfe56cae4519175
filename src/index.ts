// wasm-optim: training optimizers with fused in-place WebAssembly SIMD kernels.
export { ready, readySync, isReady, setSimdEnabled, kernelModule, instantiateKernels, defaultHeap, type WasmSource } from './wasm.js';
export { threadCount, threadFallbackReason, shutdownThreads, type ThreadOptions } from './wasm.js';
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
export { kernel, Kernel, type KernelMode, type KernelOptions, type ReductionOptions, type KernelArrays, type KernelScalars, type ArrayMode, type ReduceKind, type Expr, type KernelCondition, type KernelOps, type Operand } from './kernel/kernel.js';
export { registerClass, deserialize, getRegisteredClass, type Config, type ConfigValue, type SerializedObject, type SerializableClass } from './registry.js';
export { LearningRateSchedule } from './schedules/schedule.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './reduce-lr-on-plateau.js';
export { type PlateauState } from './state-input.js';
export { QuantizedSlot } from './quantized-slot.js';
export { type StateDtype, type QuantKind, type QuantizedState, INT8_MIN_SIZE } from './int8-code.js';
export { type ScheduledOption } from './hyperparameter.js';
export { type NumberRule } from './validate.js';
export { SGD, type SGDOptions } from './optimizers/sgd.js';
export { Adam, type AdamOptions } from './optimizers/adam.js';
export { AdamW, type AdamWOptions } from './optimizers/adamw.js';
export { Adamax, type AdamaxOptions } from './optimizers/adamax.js';
export { Nadam, type NadamOptions } from './optimizers/nadam.js';
// keras-optimizers exports
export { RMSprop, type RMSpropOptions } from './optimizers/rmsprop.js';
export { Adagrad, type AdagradOptions } from './optimizers/adagrad.js';
export { Adadelta, type AdadeltaOptions } from './optimizers/adadelta.js';
export { Ftrl, type FtrlOptions } from './optimizers/ftrl.js';
export { Lion, type LionOptions } from './optimizers/lion.js';
// extra-optimizers exports
export { Lamb, type LambOptions } from './optimizers/lamb.js';
export { Adafactor, type AdafactorOptions } from './optimizers/adafactor.js';
export { LazyAdam, type LazyAdamOptions } from './optimizers/lazy-adam.js';
export { Yogi, type YogiOptions, type YogiActivation } from './optimizers/yogi.js';
export { RAdam, type RAdamOptions } from './optimizers/radam.js';
export { OptimizerWrapper, INNER_STATE_PREFIX } from './optimizers/wrapper.js';
export { Lookahead, type LookaheadOptions } from './optimizers/lookahead.js';
export { SWA, type SWAOptions } from './optimizers/swa.js';
// muon exports
export { Muon, type MuonOptions } from './optimizers/muon.js';
// schedule-free exports
export { ScheduleFreeAdamW, type ScheduleFreeAdamWOptions } from './optimizers/schedule-free-adamw.js';
export { ScheduleFreeSGD, type ScheduleFreeSGDOptions } from './optimizers/schedule-free-sgd.js';
// optax-optimizers exports
export { Adan, type AdanOptions } from './optimizers/adan.js';
export { Adopt, type AdoptOptions } from './optimizers/adopt.js';
export { AdEMAMix, type AdEMAMixOptions } from './optimizers/ademamix.js';
export { Prodigy, type ProdigyOptions } from './optimizers/prodigy.js';
// schedules exports
export { ExponentialDecay, type ExponentialDecayOptions } from './schedules/exponential-decay.js';
export { PiecewiseConstantDecay, type PiecewiseConstantDecayOptions } from './schedules/piecewise-constant-decay.js';
export { PolynomialDecay, type PolynomialDecayOptions } from './schedules/polynomial-decay.js';
export { InverseTimeDecay, type InverseTimeDecayOptions } from './schedules/inverse-time-decay.js';
export { CosineDecay, type CosineDecayOptions } from './schedules/cosine-decay.js';
export { CosineDecayRestarts, type CosineDecayRestartsOptions } from './schedules/cosine-decay-restarts.js';
export { ConstantSchedule, type ConstantScheduleOptions } from './schedules/constant-schedule.js';
export { LinearSchedule, type LinearScheduleOptions } from './schedules/linear-schedule.js';
export { WarmupCosineDecay, type WarmupCosineDecayOptions } from './schedules/warmup-cosine-decay.js';
export { OneCycle, type OneCycleOptions } from './schedules/one-cycle.js';
export { OneCycleMomentum, type OneCycleMomentumOptions } from './schedules/one-cycle-momentum.js';
export { type AnnealStrategy } from './schedules/one-cycle-phases.js';
export { JoinSchedules, joinSchedules, type JoinSchedulesOptions } from './schedules/join-schedules.js';
export { warmup, type WarmupOptions } from './schedules/warmup.js';
// reliability exports
export { LossScaleOptimizer, type LossScaleOptimizerOptions } from './optimizers/loss-scale-optimizer.js';
// multi-optimizer exports
export { MultiOptimizer, type MultiOptimizerOptions, type OptimizerRouter } from './optimizers/multi-optimizer.js';
export { OptimizerMap } from './optimizers/optimizer-map.js';
export { STATE_FORMAT_VERSION, type StateSnapshot } from './state.js';
