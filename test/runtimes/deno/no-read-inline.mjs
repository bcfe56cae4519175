// Run by test/runtimes-deno.test.mjs with no permissions: the inline entry needs none.
import { ready, Variable, Adam } from 'wasm-optim/inline';

await ready();
const v = new Variable([1, 2], { name: 'v' });
new Adam({ learningRate: 0.1 }).applyGradients([[new Float32Array([1, 1]), v]]);
console.log(JSON.stringify(Array.from(v.value)));
