// The kernel module: every optimizer kernel plus the shared primitives, compiled against an
// imported memory with no runtime and no data segments, so one .wasm serves the library's own
// arena and a foreign heap (the tfjs wasm backend) alike.
export { setSimd } from './simd';
export * from './common';
export * from './elementwise';
export * from './foreach';
export * from './sgd';
export * from './adam';
export * from './adamax';
export * from './nadam';
// keras-optimizers kernels
export * from './rmsprop';
export * from './adagrad';
export * from './adadelta';
export * from './ftrl';
export * from './lion';
// extra-optimizers kernels
export * from './lamb';
export * from './adafactor';
export * from './lazy_adam';
export * from './yogi';
export * from './radam';
// 8-bit optimizer state (docs/int8-state.md)
export { qQuantBlock, qDequantBlock, quantizeSlot, dequantizeSlot } from './quantize';
export * from './adam_int8';
export * from './sgd_int8';
export * from './lion_int8';
export * from './rmsprop_int8';
export * from './adagrad_int8';
export * from './ademamix_int8';
export * from './adan_int8';
// muon kernels
export * from './matmul';
export * from './muon';
// optax-optimizers kernels
export * from './adan';
export * from './adopt';
export * from './ademamix';
export * from './prodigy';
// schedule-free kernels
export * from './schedule_free_adamw';
export * from './schedule_free_sgd';
// kernel() fallback reductions
export * from './reduce';
