// Runs TypeScript (an example file or a code block from the docs) the way a user would: the
// source is transpiled by esbuild and imported from inside the package, so `import ... from
// 'wasm-optim'` resolves through the package's own exports map to the built library.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(root, 'build', '.test-ts');
let counter = 0;

/** Transpiles `source` (TypeScript) and imports it as an ES module. */
export async function importTs(source, name = 'snippet') {
  mkdirSync(outDir, { recursive: true });
  const { outputFiles } = await build({
    stdin: { contents: source, loader: 'ts', resolveDir: root, sourcefile: `${name}.ts` },
    format: 'esm', platform: 'node', target: 'es2022', write: false, bundle: false,
  });
  const file = join(outDir, `${name}-${process.pid}-${counter++}.mjs`);
  writeFileSync(file, outputFiles[0].text);
  return import(pathToFileURL(file).href);
}

export const repoFile = (...parts) => join(root, ...parts);
