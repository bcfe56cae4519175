// kernel() over other memories: a foreign heap (its own memory and optim.wasm instance, as an
// integration's), memory growth between and during runs, and arrays from two memories refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, Variable, kernel, Arena, instantiateKernels, kernelModule } from '../build/index.js';
import { rng } from './helpers/random.mjs';

await ready();

const spec = (compile) => ({
  name: 'axpby', compile, arrays: { y: 'inout', x: 'in' }, scalars: ['a', 'b'],
  body: ({ y, x }, { a, b }) => ({ y: y.mul(b).add(x.mul(a)) }),
});
const norm = (compile) => kernel({ name: 'n2', compile, arrays: { x: 'in' }, reduce: 'sumOfSquares', body: ({ x }) => x });
const f = Math.fround;
const foreign = (pages = 1) => {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  return new Arena(memory, instantiateKernels(kernelModule(), memory));
};

for (const compile of [true, false]) {
  test(`a foreign heap: Variables and views of another memory (${compile ? 'compiled' : 'fallback'})`, () => {
    const k = kernel(spec(compile));
    const heap = foreign();
    const n = 3001;
    const x0 = rng(1).f32(n), y0 = rng(2).f32(n);
    const y = new Variable(y0, {}, heap), x = new Variable(x0, {}, heap);
    k.run({ y, x: x.value }, { a: 0.5, b: 2 });
    for (let i = 0; i < n; i++) assert.ok(Object.is(y.value[i], f(f(y0[i] * 2) + f(x0[i] * 0.5))), `${i}`);
    const want = Array.from(y.value).reduce((s, v) => s + v * v, 0);
    assert.ok(Math.abs(norm(compile).run({ x: y }) - want) <= 1e-9 * want);
    // The same kernel on the default heap next: one binding per heap.
    const yd = new Variable(y0), xd = new Variable(x0);
    k.run({ y: yd, x: xd }, { a: 0.5, b: 2 });
    assert.equal(Array.from(yd.value), Array.from(y.value));
  });

  test(`arrays of two memories are refused (${compile ? 'compiled' : 'fallback'})`, () => {
    const k = kernel(spec(compile));
    const y = new Variable(new Float32Array(4), {}, foreign());
    const x = new Variable(new Float32Array(4));
    assert.throws(() => k.run({ y, x }, { a: 1, b: 1 }), /x must be a view of the same wasm memory as the other arrays/);
    assert.throws(() => k.run({ y: x, x: y.value }, { a: 1, b: 1 }), /x must be a view of the same wasm memory/);
  });

  test(`memory growth: Variables keep working, a view taken before the growth is refused (${compile ? 'compiled' : 'fallback'})`, () => {
    const k = kernel(spec(compile));
    const heap = foreign();
    const y = new Variable(new Float32Array(8).fill(1), {}, heap);
    const x = new Variable(new Float32Array(8).fill(2), {}, heap);
    k.run({ y, x }, { a: 1, b: 1 });
    const stale = x.value;
    const big = Variable.zeros([1 << 16], {}, heap); // grows the memory
    assert.throws(() => k.run({ y, x: stale }, { a: 1, b: 1 }), /x must be a view of the same wasm memory/);
    k.run({ y, x }, { a: 1, b: 1 });
    assert.equal(Array.from(y.value), [5, 5, 5, 5, 5, 5, 5, 5]);
    big.dispose();
  });
}

test('the fallback allocates its scratch on a heap\'s first run; if that grows the memory, the call still uses the right arrays', () => {
  const k = kernel(spec(false));
  const heap = foreign();
  // Fill the one page so the scratch cannot fit without growing.
  const filler = Variable.zeros([(65536 - 64 - 2 * 64) / 4 - 16], {}, heap);
  const y = new Variable(new Float32Array(8).fill(1), {}, heap);
  const x = new Variable(new Float32Array(8).fill(3), {}, heap);
  const before = heap.memory.buffer.byteLength;
  k.run({ y, x: x.value }, { a: 1, b: 2 }); // the Variable names the heap; x is a view taken before the growth
  assert.ok(heap.memory.buffer.byteLength > before, 'the memory grew');
  assert.equal(Array.from(y.value), [5, 5, 5, 5, 5, 5, 5, 5]);
  filler.dispose();
  const live = heap.liveBytes;
  k.release();
  assert.ok(heap.liveBytes < live, 'release() frees the scratch');
});

test.run();
