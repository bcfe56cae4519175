// The kernels of kernel-subset.mjs as a module's exports, for `npx wasm-optim compile`: the
// workerd and edge-runtime suites precompile them with the CLI and load the .wasm files as modules.
import { kernel } from 'wasm-optim';
import { KERNEL_SPECS, reductionSpec } from './kernel-subset.mjs';

export const adabelief = kernel(KERNEL_SPECS.adabelief);
export const mix = kernel(KERNEL_SPECS.mix);
export const rSum = kernel(reductionSpec('sum'));
export const rSumOfSquares = kernel(reductionSpec('sumOfSquares'));
export const rMax = kernel(reductionSpec('max'));
export const rMaxAbs = kernel(reductionSpec('maxAbs'));
