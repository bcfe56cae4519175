// Input validation at the edges of the core (issue #10 items 6, 11, 15, 16, 17, 18, 19): kernels
// read the engine's length/offset/buffer, Variable copies a source that memory growth detaches and
// reads an array-like once, float32 rounding of hyperparameters, messages that say a value's type,
// checkpoint headers, registry names, scalar variables.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as lib from '../build/index.js';
import { repoFile } from './helpers/load-ts.mjs';
import { checkNumber, checkShape } from '../build/validate.js';
import { typedLength, typedByteOffset, typedBuffer, isFloat32Array } from '../build/typed.js';
import { frame } from './helpers/checkpoint.mjs';

const {
  ready, Variable, Arena, Adam, Optimizer, OptimizerWrapper, LossScaleOptimizer,
  defaultHeap, instantiateKernels, kernelModule, kernels, registerClass, getRegisteredClass, deserialize,
  ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, CosineDecay, CosineDecayRestarts, InverseTimeDecay,
} = lib;
await ready();

/** A fresh arena on a memory of one page, so that a test can make it grow. */
function smallArena() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  return new Arena(memory, instantiateKernels(kernelModule(), memory));
}

/** Every byte of wasm memory outside [from, to), to show that nothing else was written. */
function outside(heap, from, to) {
  const all = new Uint8Array(heap.memory.buffer);
  return [all.slice(0, from), all.slice(to)];
}

const throwsWith = (fn, type, text) => {
  try {
    fn();
  } catch (e) {
    assert.is(e.name, type, `${e.name}: ${e.message}`);
    assert.ok(e.message.includes(text), `message\n  ${e.message}\nlacks\n  ${text}`);
    return e;
  }
  assert.unreachable(`expected a ${type}: ${text}`);
};

// ---------------------------------------------------------------- item 6: kernels

test('typed.ts reads the engine values, not the properties', () => {
  class Liar extends Float32Array {
    get length() {
      return 1000;
    }
    get byteOffset() {
      return 4;
    }
    get buffer() {
      return new ArrayBuffer(8);
    }
  }
  const x = new Liar(3);
  assert.is(typedLength(x), 3);
  assert.is(typedByteOffset(x), 0);
  assert.ok(typedBuffer(x) !== x.buffer);
  assert.ok(isFloat32Array(x));
  const fake = Object.setPrototypeOf({ length: 3, byteOffset: 0, buffer: new ArrayBuffer(12) }, Float32Array.prototype);
  assert.ok(fake instanceof Float32Array, 'the fake passes instanceof');
  assert.not.ok(isFloat32Array(fake));
  assert.not.ok(isFloat32Array(new Int32Array(1)));
});

test('kernels: a subclass overriding length or byteOffset writes only the memory of the real view', () => {
  const heap = defaultHeap();
  const a = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'a' });
  const b = new Variable(new Float32Array([5, 6, 7, 8]), { name: 'b' });
  class Long extends Float32Array {
    get length() {
      return 1000;
    }
  }
  class Elsewhere extends Float32Array {
    get byteOffset() {
      return b.ptr;
    }
  }
  const cases = [
    ['length getter', () => new Long(heap.memory.buffer, a.ptr, 4)],
    ['byteOffset getter', () => new Elsewhere(heap.memory.buffer, a.ptr, 4)],
    ['own length property', () => Object.defineProperty(new Float32Array(heap.memory.buffer, a.ptr, 4), 'length', { value: 1000 })],
    ['own byteOffset property', () => Object.defineProperty(new Float32Array(heap.memory.buffer, a.ptr, 4), 'byteOffset', { value: b.ptr })],
  ];
  const ops = {
    fill: (x) => kernels.fill(x, 0),
    scale: (x) => kernels.scale(x, 2),
    clipByValue: (x) => kernels.clipByValue(x, 0.5),
    copy: (x) => kernels.copy(x, a.value),
    axpy: (x) => kernels.axpy(x, a.value, 1),
    ema: (x) => kernels.ema(x, a.value, 0.5),
  };
  for (const [label, make] of cases) {
    for (const [name, op] of Object.entries(ops)) {
      a.assign([1, 2, 3, 4]);
      const before = outside(heap, a.ptr, a.ptr + 16);
      op(make());
      const after = outside(heap, a.ptr, a.ptr + 16);
      assert.ok(before.every((x, i) => Buffer.compare(x, after[i]) === 0), `${label}, ${name}: memory outside 'a' changed`);
      assert.equal(Array.from(b.value), [5, 6, 7, 8], label);
    }
    a.assign([1, 2, 3, 4]);
    assert.is(kernels.sumSquares(make()), 30, `${label}: sumSquares reads the 4 real values`);
  }
  a.dispose();
  b.dispose();
});

test('kernels: lengths are compared on the engine values; an object posing as a Float32Array is refused', () => {
  const heap = defaultHeap();
  const a = new Variable(new Float32Array(4), { name: 'a' });
  const b = new Variable(new Float32Array(8), { name: 'b' });
  class Short extends Float32Array {
    get length() {
      return 4;
    }
  }
  const bLies = new Short(heap.memory.buffer, b.ptr, 8);
  throwsWith(() => kernels.copy(a.value, bLies), 'RangeError', 'kernels: src has 8 elements, expected 4');
  throwsWith(() => kernels.copy(bLies, a.value), 'RangeError', 'kernels: src has 4 elements, expected 8');
  const fake = Object.setPrototypeOf({ buffer: heap.memory.buffer, byteOffset: b.ptr, length: 4 }, Float32Array.prototype);
  throwsWith(() => kernels.fill(fake, 1), 'TypeError', 'kernels: x must be a Float32Array view of wasm memory');
  throwsWith(() => kernels.copy(a.value, fake), 'TypeError', 'kernels: src must be a Float32Array view of wasm memory');
  assert.equal(Array.from(b.value), [0, 0, 0, 0, 0, 0, 0, 0]);
  a.dispose();
  b.dispose();
});

test('kernels: reading the engine values allocates nothing (0 collections in 400k calls with a 1 MiB young generation)', () => {
  const script = `
    import { PerformanceObserver } from 'node:perf_hooks';
    const { ready, Variable, kernels } = await import(${JSON.stringify(pathToFileURL(repoFile('build', 'index.js')).href)});
    await ready();
    const a = new Variable(new Float32Array(64).fill(0.5), { name: 'a' });
    const b = new Variable(new Float32Array(64).fill(0.25), { name: 'b' });
    const x = a.value, y = b.value;
    const round = () => {
      kernels.axpy(x, y, 0.5); kernels.scale(x, 0.5); kernels.scaleCopy(x, y, 2); kernels.copy(x, y);
      kernels.fill(y, 0.25); kernels.ema(x, y, 0.9); kernels.clipByValue(x, 1);
      return kernels.sumSquares(x) + kernels.norm(y) + (kernels.allFinite(x) ? 1 : 0);
    };
    let sink = 0;
    for (let i = 0; i < 20000; i++) sink += round();
    let collections = 0;
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 10));
    const obs = new PerformanceObserver((list) => { collections += list.getEntries().length; });
    obs.observe({ entryTypes: ['gc'] });
    for (let i = 0; i < 40000; i++) sink += round();
    await new Promise((r) => setTimeout(r, 10));
    obs.disconnect();
    console.log(JSON.stringify({ collections, sink: Number.isFinite(sink) }));`;
  const out = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', script], { encoding: 'utf8' });
  const result = JSON.parse(out.stdout.trim().split('\n').pop() || '{}');
  assert.equal(result, { collections: 0, sink: true }, out.stderr);
});

test('kernels: a number argument that is infinite in float32 is refused; Infinity itself is allowed', () => {
  const x = new Variable(new Float32Array(3), { name: 'x' });
  throwsWith(() => kernels.fill(x.value, 1e39), 'RangeError', 'kernels: value must be representable in float32, got 1e+39 (Infinity in float32)');
  throwsWith(() => kernels.scale(x.value, -4e38), 'RangeError', 'kernels: a must be representable in float32, got -4e+38 (-Infinity in float32)');
  throwsWith(() => kernels.fill(x.value, '1'), 'TypeError', "kernels: value must be a number, got the string '1'");
  assert.equal(Array.from(x.value), [0, 0, 0]);
  kernels.fill(x.value, Infinity);
  assert.equal(Array.from(x.value), [Infinity, Infinity, Infinity]);
  x.dispose();
});

// ---------------------------------------------------------------- item 11: Variable sources

test('new Variable(w.value) when the allocation grows memory: copied by offset, nothing leaked', () => {
  const heap = smallArena();
  const n = 10000; // 40 kB: a second one does not fit in the rest of the 64 kB page
  const w = new Variable(Float32Array.from({ length: n }, (_, i) => i * 0.5), { name: 'w' }, heap);
  const size = heap.memory.buffer.byteLength;
  const copy = new Variable(w.value, { name: 'copy' }, heap);
  assert.ok(heap.memory.buffer.byteLength > size, 'the memory grew');
  assert.equal(Array.from(copy.value), Array.from(w.value));
  assert.is(heap.liveBytes, 2 * n * 4);
  // a subarray view, and a view whose properties lie: the engine's offset and length are used
  class Liar extends Float32Array {
    get length() {
      return 3;
    }
    get byteOffset() {
      return 0;
    }
  }
  const live = heap.liveBytes;
  const filler = new Variable(new Float32Array((heap.memory.buffer.byteLength - heap.liveBytes) / 4 - 64), {}, heap);
  const part = new Variable(new Liar(heap.memory.buffer, w.ptr + 8, 5), { name: 'part' }, heap);
  assert.equal(Array.from(part.value), [1, 1.5, 2, 2.5, 3]);
  filler.dispose();
  part.dispose();
  assert.is(heap.liveBytes, live);
  // other typed arrays on wasm memory are converted before the allocation
  const ints = new Int32Array(heap.memory.buffer, w.ptr, 4);
  const fill2 = new Variable(new Float32Array((heap.memory.buffer.byteLength - heap.liveBytes) / 4 - 64), {}, heap);
  const fromInts = new Variable(ints, { name: 'ints' }, heap);
  assert.equal(Array.from(fromInts.value), Array.from(new Int32Array(new Float32Array([0, 0.5, 1, 1.5]).buffer)));
  for (const v of [fill2, fromInts, copy, w]) v.dispose();
  assert.is(heap.liveBytes, 0);
});

test('assign: a view of wasm memory (overlapping too), a lying subclass, element types', () => {
  const heap = defaultHeap();
  const big = new Variable(Float32Array.from({ length: 10 }, (_, i) => i), { name: 'big' });
  const inside = Variable.wrap(heap, big.ptr, [5], { name: 'inside' });
  inside.assign(new Float32Array(heap.memory.buffer, big.ptr + 4, 5)); // overlaps its destination
  assert.equal(Array.from(big.value), [1, 2, 3, 4, 5, 5, 6, 7, 8, 9]);
  inside.dispose();
  big.dispose();
  const w = new Variable(new Float32Array([1, 2, 3, 4, 5]), { name: 'w' });
  const other = new Variable(new Float32Array([9, 8, 7, 6, 5]), { name: 'other' });
  w.assign(other.value);
  assert.equal(Array.from(w.value), [9, 8, 7, 6, 5]);
  class Liar extends Float32Array {
    get length() {
      return 5;
    }
  }
  throwsWith(() => w.assign(new Liar(7)), 'RangeError', "Variable 'w'.assign: values must hold 5 numbers, got 7");
  throwsWith(() => w.assign(['a', 1, 2, 3, 4]), 'TypeError', "Variable 'w'.assign: values[0] must be a number, got string");
  throwsWith(() => w.assign(new BigInt64Array(5)), 'TypeError', "Variable 'w'.assign: values must hold numbers, got a BigInt64Array");
  assert.equal(Array.from(w.value), [9, 8, 7, 6, 5], 'unchanged by the refused calls');
  other.dispose();
  w.dispose();
});

test('a Proxy array-like is read once: its length and each element', () => {
  let lengthReads = 0;
  const reads = new Map();
  const target = [1, 2];
  const proxy = new Proxy(target, {
    get(t, key) {
      if (key === 'length') return ++lengthReads === 1 ? 2 : 100000;
      if (typeof key === 'string' && /^\d+$/.test(key)) {
        reads.set(key, (reads.get(key) ?? 0) + 1);
        return reads.get(key) === 1 ? t[key] : 1e9;
      }
      return t[key];
    },
  });
  const heap = defaultHeap();
  const live = heap.liveBytes;
  const v = new Variable(proxy, { name: 'p' });
  assert.is(v.size, 2);
  assert.equal(Array.from(v.value), [1, 2]);
  assert.is(lengthReads, 1);
  assert.equal([...reads.values()], [1, 1]);
  lengthReads = 0;
  reads.clear();
  v.assign(proxy);
  assert.equal(Array.from(v.value), [1, 2]);
  assert.is(lengthReads, 1);
  v.dispose();
  assert.is(heap.liveBytes, live);
  // a refused source leaves no block behind
  throwsWith(() => new Variable([1, 'x']), 'TypeError', 'Variable: values[1] must be a number, got string');
  throwsWith(() => new Variable(new BigUint64Array(2)), 'TypeError', 'Variable: values must hold numbers, got a BigUint64Array');
  assert.is(heap.liveBytes, live);
});

test('assign: a source whose getter disposes the variable writes nothing', () => {
  const w = new Variable([1, 2, 3], { name: 'w' });
  const source = {
    get length() {
      w.dispose();
      return 3;
    },
    0: 7,
    1: 8,
    2: 9,
  };
  // whatever reuses the freed block must not be overwritten
  let reuse = null;
  const source2 = {
    length: 3,
    get 0() {
      w2.dispose();
      reuse = new Variable([4, 5, 6], { name: 'reuse' });
      return 7;
    },
    1: 8,
    2: 9,
  };
  throwsWith(() => w.assign(source), 'Error', "Variable 'w' was disposed and cannot be used");
  const w2 = new Variable([1, 2, 3], { name: 'w2' });
  throwsWith(() => w2.assign(source2), 'Error', "Variable 'w2' was disposed and cannot be used");
  assert.equal(Array.from(reuse.value), [4, 5, 6]);
  reuse.dispose();
});

test('Variable values: a finite number float32 cannot hold is refused; Infinity and NaN are kept', () => {
  const heap = defaultHeap();
  const live = heap.liveBytes;
  throwsWith(() => new Variable([1, 3.5e38]), 'RangeError', 'Variable: values[1] is 3.5e+38, which float32 cannot hold (Infinity in float32)');
  throwsWith(() => new Variable(new Float64Array([-1e300])), 'RangeError', 'Variable: values[0] is -1e+300, which float32 cannot hold (-Infinity in float32)');
  assert.is(heap.liveBytes, live);
  const v = new Variable([Infinity, -Infinity, NaN, 3.4028235e38, 1e-50]);
  assert.equal(Array.from(v.value), [Infinity, -Infinity, NaN, 3.4028234663852886e38, 0]);
  const f64 = new Variable(new Float64Array([0.1, Infinity]));
  assert.equal(Array.from(f64.value), [Math.fround(0.1), Infinity]);
  throwsWith(() => f64.assign([1, 1e39]), 'RangeError', "Variable 'variable_");
  assert.equal(Array.from(f64.value), [Math.fround(0.1), Infinity]);
  // a Float64Array view of wasm memory is converted before the allocation that could detach it
  const small = smallArena();
  const host = new Variable(new Float32Array(12000), { name: 'host' }, small);
  const doubles = new Float64Array(small.memory.buffer, host.ptr, 6000);
  doubles.fill(0.25);
  const size = small.memory.buffer.byteLength;
  const copy = new Variable(doubles, { name: 'copy' }, small);
  assert.ok(small.memory.buffer.byteLength > size, 'the memory grew');
  assert.ok(copy.value.every((x) => x === 0.25));
  for (const x of [copy, host, v, f64]) x.dispose();
});

test('Variable options are read once: a name or shape getter cannot change after its check', () => {
  let nameReads = 0;
  let shapeReads = 0;
  const v = new Variable([1, 2], {
    get name() {
      return nameReads++ === 0 ? 'once' : 5;
    },
    get shape() {
      return shapeReads++ === 0 ? [2] : [1000];
    },
  });
  assert.is(v.name, 'once');
  assert.equal(v.shape, [2]);
  assert.is(v.size, 2);
  assert.is(nameReads, 1);
  assert.is(shapeReads, 1);
  v.dispose();
});

// ---------------------------------------------------------------- items 15 and 18: numbers

test('checkNumber({ float32: true }): the float32-rounded value must be finite and in range', () => {
  throwsWith(() => checkNumber('lr', 1e39, { min: 0, float32: true }), 'RangeError', 'lr must be a finite number >= 0 representable in float32, got 1e+39 (Infinity in float32)');
  throwsWith(() => checkNumber('lr', -1e39, { float32: true }), 'RangeError', 'lr must be a finite number representable in float32, got -1e+39 (-Infinity in float32)');
  throwsWith(() => checkNumber('beta', 0.99999999, { min: 0, max: 1, maxExclusive: true, float32: true }), 'RangeError', 'beta must be a finite number >= 0 < 1 representable in float32, got 0.99999999 (1 in float32)');
  throwsWith(() => checkNumber('scale', 1e-50, { min: 0, minExclusive: true, float32: true }), 'RangeError', 'scale must be a finite number > 0 representable in float32, got 1e-50 (0 in float32)');
  const maxF32 = 3.4028234663852886e38;
  assert.is(checkNumber('x', maxF32, { float32: true }), maxF32);
  assert.is(checkNumber('x', 0.1, { float32: true }), 0.1, 'returns the value given, not its rounding');
  assert.is(checkNumber('x', 1e39), 1e39, 'without the option, float64 range');
  throwsWith(() => checkNumber('n', 1e300, { min: 0, integer: true }), 'RangeError', 'n must be an integer >= 0, got 1e+300 (not a safe integer)');
});

test('schedules refuse a learning rate that is Infinity in float32', () => {
  const cases = [
    [() => new ExponentialDecay({ initialLearningRate: 1e39, decaySteps: 10, decayRate: 0.5 }), 'ExponentialDecay: initialLearningRate'],
    [() => new InverseTimeDecay({ initialLearningRate: 1e39, decaySteps: 10, decayRate: 0.5 }), 'InverseTimeDecay: initialLearningRate'],
    [() => new PolynomialDecay({ initialLearningRate: 1e39, decaySteps: 10 }), 'PolynomialDecay: initialLearningRate'],
    [() => new PolynomialDecay({ initialLearningRate: 0.1, decaySteps: 10, endLearningRate: 1e39 }), 'PolynomialDecay: endLearningRate'],
    [() => new CosineDecay({ initialLearningRate: 1e39, decaySteps: 10 }), 'CosineDecay: initialLearningRate'],
    [() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupTarget: 1e39 }), 'CosineDecay: warmupTarget'],
    [() => new CosineDecayRestarts({ initialLearningRate: 1e39, firstDecaySteps: 10 }), 'CosineDecayRestarts: initialLearningRate'],
    [() => new PiecewiseConstantDecay({ boundaries: [10], values: [0.1, 1e39] }), 'PiecewiseConstantDecay: values[1]'],
  ];
  for (const [make, name] of cases) throwsWith(make, 'RangeError', `${name} must be a finite number >= 0 representable in float32, got 1e+39 (Infinity in float32)`);
  // the largest float32 is fine
  assert.is(new ExponentialDecay({ initialLearningRate: 3.4028234663852886e38, decaySteps: 10, decayRate: 0.5 }).call(0), 3.4028234663852886e38);
});

test('schedules refuse unknown options, with the camelCase name for a Keras one; subclasses list theirs', () => {
  throwsWith(() => new ExponentialDecay({ initial_learning_rate: 0.1, decaySteps: 10, decayRate: 0.5 }), 'TypeError', "ExponentialDecay: unknown option 'initial_learning_rate' (did you mean initialLearningRate?)");
  throwsWith(() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmup_target: 1 }), 'TypeError', "CosineDecay: unknown option 'warmup_target' (did you mean warmupTarget?)");
  throwsWith(() => new PiecewiseConstantDecay({ boundaries: [1], values: [1, 2], name: 'pw' }), 'TypeError', "PiecewiseConstantDecay: unknown option 'name'; expected one of boundaries, values");
  class Scaled extends ExponentialDecay {
    static className = 'hardening.Scaled';
    static optionNames = ['factor'];
    constructor(options) {
      super({ ...options, factor: undefined });
    }
  }
  throwsWith(() => new Scaled({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, factor: 2, extra: 1 }), 'TypeError', "hardening.Scaled: unknown option 'extra'; expected one of factor, initialLearningRate, decaySteps, decayRate, staircase");
  assert.ok(new Scaled({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, factor: 2 }));
  for (const C of [ExponentialDecay, InverseTimeDecay, PolynomialDecay, CosineDecay, CosineDecayRestarts, PiecewiseConstantDecay]) {
    const valid = {
      ExponentialDecay: { initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true },
      InverseTimeDecay: { initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true },
      PolynomialDecay: { initialLearningRate: 0.1, decaySteps: 10, endLearningRate: 0.01, power: 2, cycle: true },
      CosineDecay: { initialLearningRate: 0.1, decaySteps: 10, alpha: 0.1, warmupTarget: 0.2, warmupSteps: 3 },
      CosineDecayRestarts: { initialLearningRate: 0.1, firstDecaySteps: 10, tMul: 2, mMul: 0.5, alpha: 0.1 },
      PiecewiseConstantDecay: { boundaries: [1], values: [1, 2] },
    }[C.className];
    const s = new C(valid);
    assert.equal(C.fromConfig(s.getConfig()).getConfig(), s.getConfig(), `${C.className}: its own config is accepted`);
    assert.equal(Object.keys(s.getConfig()).sort(), [...C.optionNames].sort(), C.className);
  }
});

test('PiecewiseConstantDecay reads boundaries and values once', () => {
  let reads = 0;
  const values = new Proxy([0.1, 0.01], {
    get(t, key) {
      if (key === '1') return ++reads === 1 ? 0.01 : -5;
      return t[key];
    },
  });
  const s = new PiecewiseConstantDecay({ boundaries: [10], values });
  assert.is(reads, 1);
  assert.equal(s.values, [0.1, 0.01]);
  assert.is(s.call(20), 0.01);
});

test('a wrong-type value is named by its type', () => {
  const cases = [
    [{ learningRate: '0.01' }, "Adam: learningRate must be a finite number >= 0, got the string '0.01'"],
    [{ learningRate: true }, 'Adam: learningRate must be a finite number >= 0, got the boolean true'],
    [{ learningRate: 1n }, 'Adam: learningRate must be a finite number >= 0, got the bigint 1n'],
    [{ learningRate: null }, 'Adam: learningRate must be a finite number >= 0, got null'],
    [{ learningRate: [0.1] }, 'Adam: learningRate must be a finite number >= 0, got an array'],
    [{ learningRate: { valueOf: () => 0.1 } }, 'Adam: learningRate must be a finite number >= 0, got an object'],
    [{ useEma: 'true' }, "Adam: useEma must be a boolean, got the string 'true'"],
    [{ useEma: null }, 'Adam: useEma must be a boolean, got null'],
    [{ useEma: 1 }, 'Adam: useEma must be a boolean, got 1'],
  ];
  for (const [options, message] of cases) throwsWith(() => new Adam(options), 'TypeError', message);
  throwsWith(() => new ExponentialDecay({ decaySteps: 10, decayRate: 0.5 }), 'TypeError', 'ExponentialDecay: initialLearningRate must be a finite number >= 0, got undefined');
  throwsWith(() => Variable.zeros('2x2'), 'TypeError', "Variable.zeros: shape must be an array of positive integers ([] for a scalar), got the string '2x2'");
  throwsWith(() => Variable.zeros({ length: 1, 0: 2 }), 'TypeError', 'Variable.zeros: shape must be an array of positive integers ([] for a scalar), got an object');
  throwsWith(() => Variable.zeros([2, '3']), 'RangeError', "Variable.zeros: shape must be an array of positive integers ([] for a scalar), got an array whose element 1 is the string '3'");
  throwsWith(() => Variable.zeros([2, 1.5]), 'RangeError', 'Variable.zeros: shape must be an array of positive integers ([] for a scalar), got [2,1.5]');
  assert.ok(Object.isFrozen(checkShape('s', [2, 3])));
});

// ---------------------------------------------------------------- item 17: registry

test('registerClass: an inherited className, or a related class under a taken name, is refused', () => {
  class Parent extends Optimizer {
    static className = 'hardening.Parent';
    updateStep() {}
  }
  class Sub extends Parent {}
  registerClass(Parent);
  registerClass(Parent); // the same class again: nothing happens
  throwsWith(() => registerClass(Sub), 'TypeError', "registerClass: Sub needs its own static className (it inherits 'hardening.Parent' from Parent)");
  class Named extends Parent {
    static className = 'hardening.Parent';
  }
  throwsWith(() => registerClass(Named), 'Error', "registerClass: className 'hardening.Parent' is already registered to Parent; give Named its own static className");
  assert.is(getRegisteredClass('hardening.Parent'), Parent);
  assert.instance(deserialize({ className: 'hardening.Parent', config: {} }), Parent);
  assert.not.instance(deserialize({ className: 'hardening.Parent', config: {} }), Sub);
  class Own extends Parent {
    static className = 'hardening.Own';
  }
  assert.is(registerClass(Own), Own);
  assert.instance(deserialize({ className: 'hardening.Own', config: {} }), Own);
});

test('registerClass reads className once', () => {
  let reads = 0;
  class Shifty extends Optimizer {
    static get className() {
      return ++reads === 1 ? 'hardening.Shifty' : 'Adam';
    }
    updateStep() {}
  }
  registerClass(Shifty);
  assert.is(reads, 1);
  assert.is(getRegisteredClass('hardening.Shifty'), Shifty);
  assert.is(getRegisteredClass('Adam'), Adam, 'Adam is still Adam');
});

test('deserialize reads className and config once', () => {
  let reads = 0;
  const obj = {
    get className() {
      return ++reads === 1 ? 'Adam' : 'Nope';
    },
    config: { learningRate: 0.5 },
  };
  assert.instance(deserialize(obj), Adam);
  assert.is(reads, 1);
  throwsWith(() => deserialize({ className: '__proto__', config: {} }), 'Error', "deserialize: unknown object class '__proto__'");
});

// ---------------------------------------------------------------- item 16: checkpoint headers



/** The header and floats of a checkpoint (the inverse of frame). */
function unframe(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen)));
  const start = (12 + hlen + 3) & ~3;
  const floats = Array.from({ length: (bytes.length - 4 - start) / 4 }, (_, i) => dv.getFloat32(start + i * 4, true));
  return { header, floats };
}

test('the frame helper reproduces saveState() byte for byte', () => {
  const w = new Variable([1, 2], { name: 'w' });
  const o = new Adam();
  o.applyGradients([[new Float32Array([0.5, -0.5]), w]]);
  const bytes = o.saveState();
  const { header, floats } = unframe(bytes);
  assert.equal(Array.from(frame(header, floats)), Array.from(bytes));
  o.dispose();
  w.dispose();
});

test('checkpoints with a valid CRC: duplicate entries, prototype names, bad iterations, config or class are refused', () => {
  const w = new Variable([1, 2], { name: 'w' });
  const o = new Adam({ learningRate: 0.1 });
  o.applyGradients([[new Float32Array([0.5, -0.5]), w]]);
  const { header, floats } = unframe(o.saveState());
  const entries = header.variables; // [w/m, w/v]
  const state = () => JSON.stringify([Array.from(w.value), o.iterations, Object.entries(o.getState().variables).map(([k, e]) => [k, Array.from(e.values)])]);
  const before = state();
  const bad = [
    ['variable \'w/m\' is listed twice', { ...header, variables: [entries[0], entries[0], entries[1]] }, [...floats, 9, 9]],
    ['variable \'w/m\' is listed twice', { ...header, variables: [entries[0], entries[1], entries[0]] }, [...floats, 9, 9]],
    ["variable name '__proto__' is not allowed (empty, or a member of Object.prototype)", { ...header, variables: [...entries, { name: '__proto__', shape: [2] }] }, [...floats, 0, 0]],
    ["variable name 'constructor' is not allowed", { ...header, variables: [...entries, { name: 'constructor', shape: [2] }] }, [...floats, 0, 0]],
    ["variable name 'hasOwnProperty' is not allowed", { ...header, variables: [...entries, { name: 'hasOwnProperty', shape: [2] }] }, [...floats, 0, 0]],
    ['iterations must be an integer from 0 to 2^53 - 1, got 1e+300', { ...header, iterations: 1e300 }, floats],
    ['iterations must be an integer from 0 to 2^53 - 1, got 9007199254740992', { ...header, iterations: 2 ** 53 }, floats],
    ['iterations must be an integer from 0 to 2^53 - 1, got -1', { ...header, iterations: -1 }, floats],
    ['iterations must be an integer from 0 to 2^53 - 1, got 1.5', { ...header, iterations: 1.5 }, floats],
    ['iterations must be an integer from 0 to 2^53 - 1, got "3"', { ...header, iterations: '3' }, floats],
    ['iterations must be an integer from 0 to 2^53 - 1, got undefined', { ...header, iterations: undefined }, floats],
    ['malformed header', { ...header, config: null }, floats],
    ['malformed header', { ...header, config: [] }, floats],
    ['malformed header', { ...header, config: 5 }, floats],
    ['malformed header', { ...header, className: 5 }, floats],
    ['malformed header', [header], floats],
    ['the class name is empty', { ...header, className: '' }, floats],
    ['malformed variable entry', { ...header, variables: [[entries[0].name, entries[0].shape], entries[1]] }, floats],
    ['malformed variable entry', { ...header, variables: [{ ...entries[0], shape: [2 ** 53] }, entries[1]] }, floats],
  ];
  for (const [message, h, data] of bad) {
    const bytes = frame(h, data);
    throwsWith(() => o.loadState(bytes), 'Error', `Adam.loadState: not a valid wasm-optim checkpoint: ${message}`);
    throwsWith(() => Optimizer.fromCheckpoint(bytes, [w]), 'Error', `Optimizer.fromCheckpoint: not a valid wasm-optim checkpoint: ${message}`);
    assert.is(state(), before, message);
  }
  // the unaltered checkpoint still loads
  o.loadState(frame(header, floats));
  assert.is(state(), before);
  o.dispose();
  w.dispose();
});

test('loadState reads the bytes through the engine: a Uint8Array subclass cannot lie about them', () => {
  const w = new Variable([1, 2], { name: 'w' });
  const o = new Adam({ learningRate: 0.1 });
  o.applyGradients([[new Float32Array([0.5, -0.5]), w]]);
  const saved = o.saveState();
  const m = o.getState().variables['w/m'].values.slice();
  class Short extends Uint8Array {
    get length() {
      return 3;
    }
  }
  class OtherHalf extends Uint8Array {
    subarray() {
      return saved.subarray(0, saved.length - 4); // what the checksum would be computed over
    }
  }
  o.applyGradients([[new Float32Array([1, 1]), w]]);
  const liar = new Short(saved.length);
  liar.set(saved);
  o.loadState(liar);
  assert.equal(Array.from(o.getState().variables['w/m'].values), Array.from(m));
  const corrupt = new OtherHalf(saved.length);
  corrupt.set(saved);
  corrupt[20] ^= 1; // inside the header: only a checksum over these very bytes can catch it
  throwsWith(() => o.loadState(corrupt), 'Error', 'Adam.loadState: not a valid wasm-optim checkpoint: checksum mismatch');
  throwsWith(() => o.loadState(new Uint8ClampedArray(saved)), 'TypeError', 'Adam.loadState: bytes must be a Uint8Array (from saveState())');
  const fake = Object.setPrototypeOf({ length: saved.length, buffer: saved.buffer, byteOffset: 0, byteLength: saved.length }, Uint8Array.prototype);
  throwsWith(() => o.loadState(fake), 'TypeError', 'Adam.loadState: bytes must be a Uint8Array (from saveState())');
  o.dispose();
  w.dispose();
});

test('saveState refuses an optimizer variable named like a member of Object.prototype', () => {
  class Named extends Optimizer {
    static className = 'hardening.Named';
    build() {
      this.addVariable('constructor');
    }
    updateStep() {}
  }
  const w = new Variable([1], { name: 'w' });
  const o = new Named();
  o.prepare([w]);
  throwsWith(() => o.saveState(), 'Error', "saveState: an optimizer variable is named 'constructor', which a checkpoint cannot hold (a member of Object.prototype)");
  o.dispose();
  w.dispose();
});

// ---------------------------------------------------------------- item 19: scalar variables

const registered = (C) => typeof C === 'function' && Object.prototype.hasOwnProperty.call(C, 'className') && getRegisteredClass(C.className) === C;
const OPTIMIZERS = Object.values(lib).filter((C) => registered(C) && C.prototype instanceof Optimizer);
const CORE = OPTIMIZERS.filter((C) => !(C.prototype instanceof OptimizerWrapper) && C !== LossScaleOptimizer && C !== lib.MultiOptimizer);

test('scalar variables: shape [] holds one value; zeros, assign, wrap, state shape', () => {
  const s = new Variable(new Float32Array([2]), { shape: [], name: 's' });
  assert.equal(s.shape, []);
  assert.is(s.size, 1);
  assert.equal(Array.from(s.value), [2]);
  s.assign([3]);
  assert.equal(Array.from(s.value), [3]);
  const z = Variable.zeros([]);
  assert.equal(z.shape, []);
  assert.equal(Array.from(z.value), [0]);
  const wrapped = Variable.wrap(defaultHeap(), s.ptr, [], { name: 'view' });
  assert.equal(Array.from(wrapped.value), [3]);
  throwsWith(() => new Variable([1, 2], { shape: [] }), 'RangeError', 'Variable: options.shape [] holds 1 values but 2 were given');
  const adafactor = new lib.Adafactor();
  adafactor.prepare([s]);
  assert.equal(adafactor.getSlot(s, 'v').shape, [], 'Adafactor keeps an unfactored slot for a scalar, as for rank 1');
  assert.equal(adafactor.variables.map((v) => v.name), ['s/v']);
  adafactor.dispose();
  wrapped.dispose();
  z.dispose();
  s.dispose();
  assert.is(CORE.length, 22, CORE.map((C) => C.className).join());
});

/** Trains a scalar and a [1] variable side by side; returns the first difference, or null. */
function scalarVersusVector(make, steps = 12) {
  const s = new Variable(new Float32Array([0.75]), { shape: [], name: 's' });
  const v = new Variable(new Float32Array([0.75]), { shape: [1], name: 's' });
  const a = make();
  const b = make();
  let diff = null;
  const bits = (x) => Array.from(new Uint32Array(Float32Array.from(x).buffer));
  try {
    for (let t = 0; t < steps && !diff; t++) {
      const g = Math.fround(Math.sin(t * 1.7 + 0.3) * (t % 3 === 2 ? 8 : 0.5));
      a.applyGradients([[new Float32Array([g]), s]]);
      b.applyGradients([[new Float32Array([g]), v]]);
      if (bits(s.value).join() !== bits(v.value).join()) diff = `step ${t}: value ${s.value[0]} vs ${v.value[0]}`;
      const sa = a.getState();
      const sb = b.getState();
      if (sa.iterations !== sb.iterations) diff = `step ${t}: iterations`;
      for (const [name, e] of Object.entries(sb.variables)) {
        const mine = sa.variables[name];
        if (!mine) diff ??= `step ${t}: no slot ${name} for the scalar`;
        else if (bits(mine.values).join() !== bits(e.values).join()) diff ??= `step ${t}: slot ${name} ${Array.from(mine.values)} vs ${Array.from(e.values)}`;
        else if (e.shape.length === 1 && e.shape[0] === 1 && mine.shape.length !== 0 && name.startsWith('s/')) diff ??= `step ${t}: slot ${name} has shape ${JSON.stringify(mine.shape)}`;
      }
    }
    // a checkpoint of the scalar's optimizer round-trips, shape [] included
    const bytes = a.saveState();
    const s2 = new Variable(s.value, { shape: [], name: 's' });
    const c = Optimizer.fromCheckpoint(bytes, [s2]);
    for (const [name, e] of Object.entries(a.getState().variables)) {
      const back = c.getState().variables[name];
      if (JSON.stringify(back.shape) !== JSON.stringify(e.shape) || bits(back.values).join() !== bits(e.values).join()) diff ??= `checkpoint: ${name}`;
    }
    const g = new Float32Array([0.25]);
    a.applyGradients([[g, s]]);
    c.applyGradients([[g, s2]]);
    if (s.value[0] !== s2.value[0]) diff ??= `after the checkpoint: ${s.value[0]} vs ${s2.value[0]}`;
    c.dispose();
    s2.dispose();
  } finally {
    a.dispose();
    b.dispose();
    s.dispose();
    v.dispose();
  }
  return diff;
}

test('every optimizer updates a scalar variable bit for bit as the same variable of shape [1] (slots and checkpoints too)', () => {
  const failures = [];
  const extras = { weightDecay: 0.004, useEma: true, emaOverwriteFrequency: 5, clipnorm: 0.5 };
  for (const C of CORE) {
    for (const options of [{ learningRate: 0.01 }, { learningRate: 0.01, ...extras }, { learningRate: 0.01, gradientAccumulationSteps: 2, clipvalue: 0.3 }]) {
      const diff = scalarVersusVector(() => new C(options));
      if (diff) failures.push(`${C.className} ${JSON.stringify(options)}: ${diff}`);
    }
  }
  for (const C of OPTIMIZERS.filter((X) => !CORE.includes(X))) {
    const diff = scalarVersusVector(() => new C(new Adam({ learningRate: 0.01, useEma: true })));
    if (diff) failures.push(`${C.className}(Adam): ${diff}`);
  }
  assert.equal(failures, []);
});

test.run();
