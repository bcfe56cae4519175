// Node side of the edge suites: precompiles the kernels of kernels.mjs with the CLI
// (`wasm-optim compile`) into build/kernels-test/<name>.wasm, as an app's build step would.
import { spawnSync } from 'node:child_process';
import { ROOT } from './harness.mjs';

export const KERNEL_DIR = `${ROOT}build/kernels-test`;
export const KERNEL_FILES = ['adabelief', 'mix', 'r_sum', 'r_sumOfSquares', 'r_max', 'r_maxAbs'];

export function precompileKernels() {
  const r = spawnSync(process.execPath, ['bin/wasm-optim.mjs', 'compile', 'test/runtimes/kernels.mjs', '--out', KERNEL_DIR], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`wasm-optim compile failed:\n${r.stdout}\n${r.stderr}`);
  return KERNEL_DIR;
}
