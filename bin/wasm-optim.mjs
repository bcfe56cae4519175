#!/usr/bin/env node
// npx wasm-optim compile <module> [--out <dir>]
// Imports <module> (JavaScript, or TypeScript where this Node runs it), and writes every kernel()
// it exports as <dir>/<kernel name>.wasm: the same bytes as kernel.toBytes(). Runtimes that forbid
// compiling wasm at run time (Cloudflare workerd, Vercel Edge) import that file as a module
// binding and hand it to kernel.fromModule(module), which checks it is this kernel's computation.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const USAGE = 'usage: npx wasm-optim compile <module.js> [--out <dir>]\n' +
  '  writes each exported kernel() of <module.js> as <dir>/<name>.wasm (default dir: .)';

function fail(message) {
  console.error(`wasm-optim: ${message}`);
  process.exit(1);
}

const [command, ...rest] = process.argv.slice(2);
if (command === '--help' || command === '-h' || command === undefined) {
  console.log(USAGE);
  process.exit(command === undefined ? 1 : 0);
}
if (command !== 'compile') fail(`unknown command '${command}'\n${USAGE}`);
let file;
let out = '.';
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--out') {
    out = rest[++i];
    if (!out) fail(`--out needs a directory\n${USAGE}`);
  } else if (file === undefined) file = rest[i];
  else fail(`unexpected argument '${rest[i]}'\n${USAGE}`);
}
if (file === undefined) fail(`compile needs a module\n${USAGE}`);

let mod;
try {
  mod = await import(pathToFileURL(resolve(file)).href);
} catch (e) {
  const ts = /\.[mc]?ts$/.test(file) ? ' (for TypeScript, build it to JavaScript first, or use a Node that runs .ts files)' : '';
  fail(`cannot import ${file}${ts}: ${e?.message ?? e}`);
}
// A kernel, recognised by shape (the module may load its own copy of the package).
const isKernel = (x) => x !== null && typeof x === 'object' && typeof x.toBytes === 'function' && typeof x.signature === 'string' && typeof x.name === 'string';
const kernels = Object.entries(mod).filter(([, v]) => isKernel(v));
if (kernels.length === 0) fail(`${file} exports no kernel() (export the value kernel() returns)`);
const names = new Set();
mkdirSync(out, { recursive: true });
for (const [exported, k] of kernels) {
  if (names.has(k.name)) fail(`two exported kernels are named '${k.name}': give each kernel its own name`);
  names.add(k.name);
  const bytes = k.toBytes();
  const path = join(out, `${k.name}.wasm`);
  writeFileSync(path, bytes);
  console.log(`${path}  ${bytes.length} bytes  (export ${exported})`);
}
