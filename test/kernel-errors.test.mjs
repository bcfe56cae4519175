// kernel(): bad graphs are refused at definition with a clear error; run() checks its arguments
// as kernels.* do, reads each once, and changes nothing when it refuses a call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, Variable, kernel } from '../build/index.js';

await ready();

const base = {
  name: 'k',
  arrays: { w: 'inout', g: 'in' },
  scalars: ['lr'],
  body: ({ w, g }, { lr }) => ({ w: w.sub(g.mul(lr)) }),
};
const def = (over) => () => kernel({ ...base, ...over });

const DEFINITION = [
  ['an unknown array', { body: ({ w, x }) => ({ w: w.add(x) }) }, /body reads array 'x', which is not declared/],
  ['an unknown scalar', { body: ({ w }, { beta }) => ({ w: w.mul(beta) }) }, /body reads scalar 'beta', which is not declared/],
  ['a scalar used as an array', { body: ({ w, lr }) => ({ w: w.mul(lr) }) }, /'lr' is a scalar: take it from the body's second argument/],
  ['an array used as a scalar', { body: ({ w }, { g }) => ({ w: w.mul(g) }) }, /'g' is an array: take it from the body's first argument/],
  ['a scalar written as an output', { body: ({ w }, { lr }) => ({ w, lr }) }, /output 'lr' is a scalar; only 'inout' arrays can be written/],
  ['an output that is an in array', { body: ({ w, g }) => ({ w, g: g.add(1) }) }, /output 'g' is an 'in' array; declare it 'inout'/],
  ['an output that is not a declared array', { body: ({ w }) => ({ w, z: w }) }, /output 'z' is not a declared array/],
  ['an output that is a number', { body: () => ({ w: 0 }) }, /output 'w' must be an expression, got 0/],
  ['an output that is a comparison', { body: ({ w }) => ({ w: w.gt(0) }) }, /output 'w' is a comparison \(a boolean\)/],
  ['an inout array never written', { arrays: { w: 'inout', g: 'inout' } }, /array 'g' is 'inout' but the body returns no value for it/],
  ['no outputs object', { body: ({ w }) => w }, /body must return an object \{ arrayName: expression \}/],
  ['a Promise', { body: async ({ w }) => ({ w }) }, /not a Promise/],
  ['too few operands', { body: ({ w }) => ({ w: w.add() }) }, /add takes 1 operand, got 0/],
  ['too many operands', { body: ({ w, g }) => ({ w: w.mul(g, 2) }) }, /mul takes 1 operand, got 2/],
  ['an operand on a unary op', { body: ({ w, g }) => ({ w: w.sqrt(g) }) }, /sqrt takes 0 operands, got 1/],
  ['where with two operands', { body: ({ w, g }, s, o) => ({ w: o.where(g.lt(0), w) }) }, /where takes 3 operands, got 2/],
  ['where without a comparison', { body: ({ w, g }, s, o) => ({ w: o.where(g, w, 0) }) }, /where: the condition must be a comparison .* got an arithmetic expression/],
  ['arithmetic on a comparison', { body: ({ w, g }) => ({ w: g.lt(0).mul(w) }) }, /mul: a comparison \(lt\) is a boolean; use it only as where\(\)'s condition/],
  ['a comparison as an operand', { body: ({ w, g }) => ({ w: w.add(g.ge(w)) }) }, /add: a comparison \(ge\) is a boolean/],
  ['a string operand', { body: ({ w }) => ({ w: w.add('1') }) }, /add: expected an expression or a number, got the string '1'/],
  ['a NaN constant', { body: ({ w }) => ({ w: w.add(NaN) }) }, /add: a constant must be finite in float32, got NaN/],
  ['an infinite constant', { body: ({ w }) => ({ w: w.mul(-Infinity) }) }, /mul: a constant must be finite in float32, got -Infinity/],
  ['a constant that overflows float32', { body: ({ w }) => ({ w: w.div(1e39) }) }, /div: a constant must be finite in float32, got 1e\+39 \(Infinity in float32\)/],
  ['an unknown option', { reduction: 'sum' }, /unknown option 'reduction'/],
  ['a bad array mode', { arrays: { w: 'out', g: 'in' } }, /arrays.w must be 'in' or 'inout', got the string 'out'/],
  ['no arrays', { arrays: {}, body: () => ({}) }, /arrays must declare at least one array/],
  ['a name twice', { scalars: ['g'] }, /the name 'g' is declared twice \(as an array and as a scalar\)/],
  ['scalars not an array', { scalars: 'lr' }, /scalars must be an array of names/],
  ['no body', { body: undefined }, /body must be a function/],
  ['a reduction that writes', { reduce: 'sum', body: ({ g }) => g }, /a reduction kernel only reads: arrays.w must be 'in'/],
  ['an unknown reduction', { arrays: { g: 'in' }, reduce: 'mean', body: ({ g }) => g }, /reduce must be one of 'sum', 'sumOfSquares', 'max', 'maxAbs', got the string 'mean'/],
  ['a reduction of a comparison', { arrays: { g: 'in' }, scalars: [], reduce: 'sum', body: ({ g }) => g.gt(0) }, /is a comparison \(a boolean\)/],
  ['an alias of two inout arrays', { arrays: { w: 'inout', m: 'inout' }, aliases: [['w', 'm']], body: ({ w, m }) => ({ w, m }) }, /the first array must be 'in' and the second 'inout'/],
  ['an alias naming an unknown array', { aliases: [['x', 'w']] }, /aliases\[0\] must be a pair of declared array names/],
  ['compile not a boolean', { compile: 'no' }, /compile must be a boolean/],
];

for (const [what, over, message] of DEFINITION) {
  test(`definition refuses ${what}`, () => {
    assert.throws(def(over), (e) => e instanceof Error && message.test(e.message) && e.message.includes("kernel 'k'"), `${what}`);
  });
}

test('definition refuses a bad name and a non-object', () => {
  assert.throws(() => kernel({ ...base, name: '' }), /kernel: name must be an identifier-like string/);
  assert.throws(() => kernel(null), /kernel: expected an options object/);
});

test('the graph cannot have a cycle: expressions are immutable, and one kept past the body or from another kernel is refused', () => {
  let kept;
  kernel({ ...base, body: ({ w, g }) => ((kept = g), { w: w.add(g) }) });
  assert.throws(() => kept.add(1), /an expression was used after the body returned/);
  assert.throws(() => kernel({ ...base, body: ({ w }) => ({ w: w.add(kept) }) }), /add: the expression belongs to another kernel/);
});

const k = kernel(base);
const setup = () => {
  const w = new Variable(new Float32Array([1, 2, 3, 4, 5]));
  const g = new Variable(new Float32Array([1, 1, 1, 1, 1]));
  return { w, g };
};

const RUN = [
  ['arrays not an object', () => [null, { lr: 1 }], TypeError, /run: arrays must be an object \{ w, g \}, got null/],
  ['a missing array', ({ w }) => [{ w }, { lr: 1 }], TypeError, /run: g must be a Variable or a Float32Array view of wasm memory, got undefined/],
  ['a plain Float32Array', ({ w }) => [{ w, g: new Float32Array(5) }, { lr: 1 }], TypeError, /run: g must be a view of the same wasm memory/],
  ['an object posing as a Float32Array', ({ w }) => [{ w, g: Object.setPrototypeOf({ length: 5 }, Float32Array.prototype) }, { lr: 1 }], TypeError, /run: g must be a Variable or a Float32Array/],
  ['a length mismatch', ({ w, g }) => [{ w, g: g.value.subarray(1) }, { lr: 1 }], RangeError, /run: g has 4 elements, expected 5 \(as w\)/],
  ['an undeclared alias', ({ w }) => [{ w, g: w.value }, { lr: 1 }], RangeError, /run: w and g overlap in memory; an 'in' array may be the same memory as an 'inout' one only when declared \(aliases: \[\['g', 'w'\]\]\)/],
  ['a partial overlap', ({ w }) => [{ w: w.value.subarray(0, 4), g: w.value.subarray(1) }, { lr: 1 }], RangeError, /overlap in memory/],
  ['scalars missing', ({ w, g }) => [{ w, g }], TypeError, /run: scalars must be an object \{ lr \}, got undefined/],
  ['a missing scalar', ({ w, g }) => [{ w, g }, {}], TypeError, /run: scalar lr must be a number, got undefined/],
  ['a NaN scalar', ({ w, g }) => [{ w, g }, { lr: NaN }], TypeError, /run: scalar lr must be a number, got NaN/],
  ['a string scalar', ({ w, g }) => [{ w, g }, { lr: '0.1' }], TypeError, /run: scalar lr must be a number, got the string '0.1'/],
  ['a scalar that overflows float32', ({ w, g }) => [{ w, g }, { lr: 1e39 }], RangeError, /run: scalar lr must be representable in float32, got 1e\+39 \(Infinity in float32\)/],
];

for (const [what, args, Type, message] of RUN) {
  test(`run refuses ${what} (${Type.name}) and changes nothing`, () => {
    const { w, g } = setup();
    assert.throws(() => k.run(...args({ w, g })), (e) => e instanceof Type && message.test(e.message) && e.message.includes("kernel 'k'"));
    assert.equal(Array.from(w.value), [1, 2, 3, 4, 5]);
    w.dispose();
    g.dispose();
  });
}

test('two written arrays never share memory, even declared', () => {
  const k2 = kernel({ name: 'two', arrays: { a: 'inout', b: 'inout' }, body: ({ a, b }) => ({ a: b, b: a }) });
  const a = new Variable(new Float32Array(4));
  assert.throws(() => k2.run({ a, b: a }), /run: a and b overlap in memory; two written arrays must be distinct/);
});

test('a disposed Variable is refused', () => {
  const { w, g } = setup();
  g.dispose();
  assert.throws(() => k.run({ w, g }, { lr: 1 }), /was disposed/);
});

test('Infinity is a valid scalar (as in kernels.*)', () => {
  const { w, g } = setup();
  k.run({ w, g }, { lr: -Infinity });
  assert.equal(Array.from(w.value), [Infinity, Infinity, Infinity, Infinity, Infinity]);
});

test('check once: every array and scalar is read exactly once, through getters and Proxies', () => {
  const { w, g } = setup();
  const reads = {};
  const count = (name, value) => ({ get() { reads[name] = (reads[name] ?? 0) + 1; return value; }, enumerable: true });
  const arrays = Object.defineProperties({}, { w: count('w', w), g: count('g', g.value) });
  const scalars = new Proxy({ lr: 0.5 }, { get(t, key) { reads[key] = (reads[key] ?? 0) + 1; return t[key]; } });
  k.run(arrays, scalars);
  assert.equal(reads, { w: 1, g: 1, lr: 1 });
  assert.equal(Array.from(w.value), [0.5, 1.5, 2.5, 3.5, 4.5]);
});

test('a getter that swaps the array after being read cannot redirect the kernel', () => {
  const { w, g } = setup();
  const other = new Variable(new Float32Array(5));
  let first = true;
  const arrays = { w, get g() { const v = first ? g : other; first = false; return v; } };
  k.run(arrays, { lr: 1 });
  assert.equal(Array.from(w.value), [0, 1, 2, 3, 4]);
});

test('run called again from a getter of its own arguments is refused', () => {
  const { w, g } = setup();
  const arrays = { w, get g() { k.run({ w, g }, { lr: 1 }); return g; } };
  assert.throws(() => k.run(arrays, { lr: 1 }), /called again from a getter of its own arguments/);
  assert.equal(Array.from(w.value), [1, 2, 3, 4, 5]);
  k.run({ w, g }, { lr: 1 }); // still usable
  assert.equal(Array.from(w.value), [0, 1, 2, 3, 4]);
});

test('fromModule refuses a module of another kernel and a non-module', () => {
  const other = kernel({ ...base, name: 'other', body: ({ w, g }, { lr }) => ({ w: w.add(g.mul(lr)) }) });
  assert.throws(() => k.fromModule(new WebAssembly.Module(other.toBytes())), /fromModule: this module was compiled from a different kernel/);
  assert.throws(() => k.fromModule(new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))), /is not a wasm-optim kernel/);
  assert.throws(() => k.fromModule(k.toBytes()), /fromModule expects a WebAssembly.Module/);
  assert.is(k.mode, 'compiled');
});

test.run();
