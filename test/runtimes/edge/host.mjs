// Runs function.mjs in Vercel's edge-runtime with wasm code generation disabled (as in Vercel's
// production Edge), hands it optim.wasm as a module compiled by the host (another realm), sends
// one request and prints the JSON answer. Usage: node host.mjs [steps] [kernel]
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { EdgeRuntime } from 'edge-runtime';

const root = new URL('../../../', import.meta.url);
// The edge runtime evaluates scripts, not modules: bundle the function to one IIFE.
const { outputFiles } = await build({
  entryPoints: [new URL('function.mjs', import.meta.url).pathname],
  bundle: true,
  format: 'iife',
  platform: 'neutral',
  target: 'es2022',
  write: false,
  logLevel: 'error',
});
const module = await WebAssembly.compile(await readFile(new URL('build/bundle/optim.wasm', root)));
// With `kernel`: kernel()'s modules too, precompiled by `wasm-optim compile` into build/kernels-test.
const kernel = process.argv[3] === 'kernel';
const KERNEL_FILES = ['adabelief', 'mix', 'r_sum', 'r_sumOfSquares', 'r_max', 'r_maxAbs'];
const kernels = {};
if (kernel) for (const name of KERNEL_FILES) kernels[name] = await WebAssembly.compile(await readFile(new URL(`build/kernels-test/${name}.wasm`, root)));
const runtime = new EdgeRuntime({
  codeGeneration: { strings: false, wasm: false },
  extend: (context) => Object.assign(context, { OPTIM_WASM: module, KERNEL_MODULES: kernels }),
  initialCode: outputFiles[0].text,
});
const res = await runtime.dispatchFetch(`http://127.0.0.1/?steps=${process.argv[2] ?? 300}${kernel ? '&kernel=1' : ''}`);
await res.waitUntil();
console.log(JSON.stringify({ status: res.status, body: await res.json() }));
