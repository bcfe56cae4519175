// Compiles the AssemblyScript kernels into build/. asc only honours one entry per invocation
// (a target's own "entries" are ignored), so each target is compiled with its entry on the CLI.
import asc from 'assemblyscript/asc';
import { mkdir } from 'node:fs/promises';
import { generate } from './gen-thread-dispatch.mjs';

// The threaded dispatch is generated from the split kernels' signatures first (docs/threads.md).
generate();

const builds = [
  ['assembly/index.ts', 'release'],
  // The same kernels over a shared memory, plus runKernel, for ready({ threads }) (src/threads.ts).
  ['assembly/threads.ts', 'threads'],
  ['assembly/floors.ts', 'floors'],
];
await mkdir('build', { recursive: true });
for (const [entry, target] of builds) {
  const { error, stderr } = await asc.main([entry, '--config', 'asconfig.json', '--target', target]);
  if (error) {
    console.error(stderr.toString());
    console.error(`asc failed for ${entry} (${target}): ${error.message}`);
    process.exit(1);
  }
}
