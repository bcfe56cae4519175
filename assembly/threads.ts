// Entry of the threaded build (build/optim-threads.wasm, docs/threads.md): every kernel of
// optim.wasm, over a shared memory, plus runKernel, through which threads run slices of the
// split kernels (generated from their signatures by scripts/gen-thread-dispatch.mjs).
export * from './index';
export { runKernel } from './thread_dispatch';
