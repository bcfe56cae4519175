// Entry for Deno and Bun (and Node, for comparison): loads wasm-optim through the package's
// exports map (`wasm-optim` or `wasm-optim/inline`, given as the first argument), calls ready()
// with no argument, runs the conformance subset, the linear fine-tuning and the kernel() subset,
// prints one JSON line.
import { conformanceSubset } from './subset.mjs';
import { fineTune } from './linear.mjs';
import { kernelSubset } from './kernel-subset.mjs';

const g = globalThis;
const args = g.Deno ? g.Deno.args : g.process.argv.slice(2);
const entry = args[0] ?? 'wasm-optim';
const lib = await import(entry);
await lib.ready();
const linear = Object.fromEntries(
  Object.entries(fineTune(lib, { steps: 300 })).map(([k, r]) => [k, { digest: r.digest, loss0: r.loss0, finalLoss: r.finalLoss }]),
);
const runtime = g.Deno ? `deno ${g.Deno.version.deno}` : g.Bun ? `bun ${g.Bun.version}` : `node ${g.process.version}`;
console.log(JSON.stringify({ runtime, entry, cases: conformanceSubset(lib), linear, kernel: kernelSubset(lib) }));
