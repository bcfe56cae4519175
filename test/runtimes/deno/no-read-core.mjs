// Run by test/runtimes-deno.test.mjs with no permissions: ready() must fail to read optim.wasm.
import { ready } from 'wasm-optim';

await ready();
console.log('loaded');
