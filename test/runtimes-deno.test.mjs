// Deno runs the conformance subset from the built package and must report Node's numbers.
import { test } from 'uvu';
import { sameAsNode } from './runtimes/same-as-node.mjs';

sameAsNode('deno', (entry) => ['run', '--allow-read', '--no-prompt', 'test/runtimes/subset-main.mjs', entry]);

test.run();
