// Issue #10, the base class's step: each case below failed before the fix (memory written that the
// step does not own, state changed by a refused call, memory never released, a silent default).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as lib from '../build/index.js';

const { ready, Variable, Optimizer, Arena, instantiateKernels, kernelModule, defaultHeap, Adam, AdamW, SGD, Adagrad, LazyAdam, Lookahead, SWA, LossScaleOptimizer, Nadam, ExponentialDecay, registerClass, getRegisteredClass } = lib;
await ready();

const registered = (C) => typeof C === 'function' && Object.prototype.hasOwnProperty.call(C, 'className') && getRegisteredClass(C.className) === C;
const OPTIMIZERS = Object.values(lib).filter((C) => registered(C) && C.prototype instanceof Optimizer && !(C.prototype instanceof lib.OptimizerWrapper) && C !== LossScaleOptimizer && C !== lib.MultiOptimizer); // MultiOptimizer: test/multi-optimizer.test.mjs
const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
const same = (a, b, what) => assert.equal(bits(a), bits(b), what);

/** A fresh arena whose memory cannot grow past `pages` (64 KiB each): for out-of-memory cases. */
function smallHeap(pages) {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: pages });
  return new Arena(memory, instantiateKernels(kernelModule(), memory));
}

function stateOf(opt) {
  const s = opt.getState();
  return { iterations: s.iterations, variables: Object.fromEntries(Object.entries(s.variables).map(([k, e]) => [k, bits(e.values)])) };
}

// ---------------------------------------------------------------- 1, 3: sparse indices read once

test('1: user code that mutates the sparse indices array mid-step cannot redirect the scatter (SGD, Adagrad, LazyAdam)', () => {
  for (const C of [SGD, Adagrad, LazyAdam]) {
    const indices = [1, 2];
    // A build() hook runs after validation: it mutates the array the caller passed.
    class Mutating extends C {
      static className = `Mutating${C.className}`;
      build(variables) {
        super.build(variables);
        indices[0] = -1; // would write the block before the table
        indices[1] = 1e6; // or far past it
      }
    }
    const table = new Variable(new Float32Array(8).fill(1), { shape: [4, 2], name: 'table' });
    const victim = new Variable(new Float32Array(8).fill(7), { name: 'victim' });
    const values = new Float32Array([1, 1, 1, 1]);
    const opt = new Mutating({ learningRate: 0.1 });
    opt.applyGradients([[{ indices, values }, table]]);
    same(victim.value, new Float32Array(8).fill(7), `${C.className}: another variable was written`);
    const ref = new Variable(new Float32Array(8).fill(1), { shape: [4, 2], name: 'table' });
    new C({ learningRate: 0.1 }).applyGradients([[{ indices: [1, 2], values }, ref]]);
    same(table.value, ref.value, `${C.className}: the update uses the indices as validated`);
    // A schedule runs before the gradients are read: what it does to them is what is checked.
    const early = [1, 2];
    const bySchedule = new C({ learningRate: () => ((early[0] = -1), 0.1) });
    assert.throws(() => bySchedule.applyGradients([[{ indices: early, values }, table]]), /sparse index -1 at position 0/);
    same(victim.value, new Float32Array(8).fill(7), `${C.className}: nothing written`);
    for (const v of [table, victim, ref]) v.dispose();
  }
});

test('1: an indices getter and a Proxy array are read once', () => {
  const table = new Variable(new Float32Array(8), { shape: [4, 2], name: 'table' });
  let reads = 0;
  const g = { get indices() { reads++; return reads === 1 ? [3] : [99]; }, values: new Float32Array([1, 1]) };
  const opt = new SGD({ learningRate: 1 });
  opt.applyGradients([[g, table]]);
  assert.is(reads, 1, 'indices read once');
  same(table.value, [0, 0, 0, 0, 0, 0, -1, -1]);
  let n = 0;
  const proxy = new Proxy([0], { get: (t, k) => (k === '0' ? (n++ === 0 ? 0 : 50) : Reflect.get(t, k)) });
  opt.applyGradients([[{ indices: proxy, values: new Float32Array([1, 1]) }, table]]);
  same(table.value, [-1, -1, 0, 0, 0, 0, -1, -1], 'the Proxy element was read once');
  table.dispose();
  opt.dispose();
});

test('3: sparse indices that are a view of wasm memory survive memory growth during the step', () => {
  const heap = defaultHeap();
  const table = new Variable(new Float32Array(8), { shape: [4, 2], name: 'table' });
  const block = Variable.zeros([4], { name: 'indices-block' });
  const values = new Float32Array([1, 2, 3, 4]);
  const big = Math.ceil(heap.memory.buffer.byteLength / 4) + 1024; // its slot forces growth mid-step
  const other = Variable.zeros([big], { name: 'big' });
  const idx = new Int32Array(heap.memory.buffer, block.ptr, 2); // made after that growth: attached
  idx.set([2, 3]);
  const before = heap.memory.buffer.byteLength;
  const opt = new SGD({ learningRate: 1, momentum: 0.5 });
  opt.applyGradients([[{ indices: idx, values }, table], [new Float32Array(big), other]]);
  assert.ok(heap.memory.buffer.byteLength > before, 'memory grew during the step');
  same(table.value, [0, 0, 0, 0, -1, -2, -3, -4]);
  for (const v of [table, block, other]) v.dispose();
  opt.dispose();
});

// ---------------------------------------------------------------- 4: re-entrancy

test('4: applyGradients from a schedule, build() or updateStep is refused before anything is written', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const g = new Float32Array([1, 1]);
  const inner = new Adam();
  const viaSchedule = new Adam({ learningRate: () => (viaSchedule.applyGradients([[g, w]]), 0.1) });
  assert.throws(() => viaSchedule.applyGradients([[g, w]]), /called from inside applyGradients/);
  same(w.value, [1, 2]);
  assert.is(viaSchedule.iterations, 0);
  class Hooked extends Optimizer {
    static className = 'Hooked';
    updateStep() {
      this.applyGradients([[g, w]]);
    }
  }
  const hooked = new Hooked();
  assert.throws(() => hooked.applyGradients([[g, w]]), /Hooked.applyGradients: called from inside applyGradients/);
  // the refused inner call wrote nothing: the outer step is the only writer, and it stopped in its hook
  assert.is(hooked.iterations, 0);
  // after the step the optimizer is usable again
  assert.is(inner.applyGradients([[g, w]]), 1);
  w.dispose();
});

// ---------------------------------------------------------------- 7: aliasing

test('7: a dense gradient that is a view of the variable itself, or of a variable updated earlier, gives the result of a copy (every optimizer)', () => {
  for (const C of OPTIMIZERS) {
    const opts = { learningRate: 0.01, weightDecay: C === AdamW ? 0.1 : 0.05 };
    const run = (asView) => {
      const a = new Variable(new Float32Array([0.5, -1.5, 2, 0.25]), { name: 'a', shape: [2, 2] });
      const b = new Variable(new Float32Array([1, 2, -3, 4]), { name: 'b', shape: [2, 2] });
      const opt = new C(opts);
      for (let step = 0; step < 3; step++) {
        // a's gradient is a's own memory; b's gradient is a's memory too (a is updated first)
        const ga = asView ? a.value : a.value.slice();
        const gb = asView ? a.value : a.value.slice();
        opt.applyGradients([[ga, a], [gb, b]]);
      }
      const out = [a.value.slice(), b.value.slice()];
      a.dispose();
      b.dispose();
      opt.dispose();
      return out;
    };
    const [va, vb] = run(true);
    const [ca, cb] = run(false);
    same(va, ca, `${C.className}: a`);
    same(vb, cb, `${C.className}: b`);
  }
});

test('7: a gradient that is a view of one of the step\'s slots is copied first', () => {
  const run = (asView) => {
    const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
    const opt = new Adam({ learningRate: 0.1 });
    opt.applyGradients([[new Float32Array([0.5, 0.5]), w]]);
    const m = opt.getSlot(w, 'm').value;
    opt.applyGradients([[asView ? m : m.slice(), w]]);
    const out = [w.value.slice(), opt.getSlot(w, 'm').value.slice()];
    w.dispose();
    opt.dispose();
    return out;
  };
  const [w1, m1] = run(true);
  const [w2, m2] = run(false);
  same(w1, w2, 'weights');
  same(m1, m2, 'slot');
});

// ---------------------------------------------------------------- 8, 9: out of memory

test('8: out of memory in the middle of a step changes nothing (values, slots, iterations, live bytes)', () => {
  const heap = smallHeap(4); // 256 KiB
  const a = new Variable(new Float32Array(4096).fill(1), { name: 'a' }, heap);
  const b = new Variable(new Float32Array(4096).fill(2), { name: 'b' }, heap);
  const opt = new Adam({ learningRate: 0.1, clipnorm: 1 });
  opt.applyGradients([[new Float32Array(4096).fill(0.5), a]]); // a is built; b is not
  const before = { state: stateOf(opt), a: bits(a.value), b: bits(b.value), live: heap.liveBytes };
  // b's m and v fit (32 KiB), its gradient buffer does not: the step fails after allocating
  const filler = heap.alloc(4 * 65536 - heap.liveBytes - 40000);
  assert.throws(() => opt.applyGradients([[new Float32Array(4096).fill(0.5), a], [new Float32Array(4096).fill(0.5), b]]));
  heap.free(filler);
  assert.equal(stateOf(opt), before.state, 'optimizer state');
  assert.equal(bits(a.value), before.a, 'a');
  assert.equal(bits(b.value), before.b, 'b');
  assert.is(heap.liveBytes, before.live, 'arena live bytes');
  // and a retry applies exactly once
  opt.applyGradients([[new Float32Array(4096).fill(0.5), a], [new Float32Array(4096).fill(0.5), b]]);
  assert.is(opt.iterations, 2);
});

test('9: out of memory while building slots keeps none of them', () => {
  const heap = smallHeap(4);
  const w = new Variable(new Float32Array(25000), { name: 'w' }, heap); // 100 KB; m fits, v does not
  const live = heap.liveBytes;
  const opt = new Adam();
  assert.throws(() => opt.applyGradients([[new Float32Array(25000), w]]));
  assert.is(heap.liveBytes, live, 'no slot kept');
  assert.is(opt.variables.length, 0);
  assert.throws(() => opt.prepare([w]));
  assert.is(heap.liveBytes, live, 'prepare keeps none either');
});

test('9: a wrapper whose slot does not fit after its inner optimizer\'s did applies nothing (Lookahead, SWA)', () => {
  for (const make of [(o) => new Lookahead(o), (o) => new SWA(o)]) {
    const heap = smallHeap(4);
    const w = new Variable(new Float32Array(16000).fill(1), { name: 'w' }, heap); // 64 KB
    const wrapper = make(new SGD({ learningRate: 0.1, momentum: 0.9 }));
    // room for the inner optimizer's momentum slot (64 KB) but not also the wrapper's slot
    const filler = heap.alloc(4 * 65536 - heap.liveBytes - 100000);
    const live = heap.liveBytes;
    assert.throws(() => wrapper.applyGradients([[new Float32Array(16000).fill(1), w]]), /out of wasm memory/);
    same(w.value, new Float32Array(16000).fill(1), `${wrapper.getClassName()}: the weights`);
    assert.is(wrapper.iterations, 0, `${wrapper.getClassName()}: iterations`);
    assert.is(wrapper.variables.length, 0, `${wrapper.getClassName()}: no slot kept`);
    assert.is(heap.liveBytes, live, `${wrapper.getClassName()}: live bytes`);
    heap.free(filler);
    wrapper.applyGradients([[new Float32Array(16000).fill(1), w]]);
    assert.is(wrapper.iterations, 1, 'the retry applies once');
  }
});

test('a wrapper around a LossScaleOptimizer builds its slots in the inner step (and none on a skipped one)', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const la = new Lookahead(new LossScaleOptimizer(new Adam(), { initialScale: 4 }), { syncPeriod: 1 });
  la.applyGradients([[new Float32Array([NaN, 1]), w]]); // skipped by the loss scaling
  assert.equal(la.variables.map((v) => v.name), []);
  la.applyGradients([[new Float32Array([1, 1]), w]]);
  assert.equal(la.variables.map((v) => v.name), ['w/slow', 'w/m', 'w/v']);
  w.dispose();
});

// ---------------------------------------------------------------- 10, 12: refused restores

test('10: refused setState / loadState / fromCheckpoint of Lookahead and SWA leave no slot built and leak nothing', () => {
  const heap = defaultHeap();
  for (const make of [() => new Lookahead(new Adam()), () => new SWA(new Adam())]) {
    const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
    const src = make();
    src.applyGradients([[new Float32Array([1, 1]), w]]);
    const state = src.getState();
    const bad = { ...state, variables: Object.fromEntries(Object.entries(state.variables).filter(([k]) => k !== 'inner:w/v')) };
    const fresh = make();
    const live = heap.liveBytes;
    for (let i = 0; i < 100; i++) assert.throws(() => fresh.setState(bad, [w]), /lacks 'w\/v'/);
    assert.is(heap.liveBytes, live, 'setState');
    assert.is(fresh.variables.length, 0);
    const badBytes = (() => {
      const o = make();
      o.setState(state, [w]);
      const inner = o.inner;
      const u = new Variable(new Float32Array([1]), { name: 'u' });
      inner.prepare([u]); // the inner optimizer now has u's slots, the wrapper does not
      const b = o.saveState();
      o.dispose();
      u.dispose();
      return b;
    })();
    const live2 = heap.liveBytes;
    for (let i = 0; i < 100; i++) assert.throws(() => lib.Optimizer.fromCheckpoint(badBytes, [w]));
    assert.is(heap.liveBytes, live2, 'fromCheckpoint');
    w.dispose();
    src.dispose();
    fresh.dispose();
  }
});

test('12: a state entry with a getter, and values whose byteOffset lies, are read once and copied as they are', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const opt = new Adam();
  opt.applyGradients([[new Float32Array([1, 1]), w]]);
  const state = opt.getState();
  const before = stateOf(opt);
  let reads = 0;
  const entry = { shape: [2], get values() { if (++reads > 1) throw new Error('read twice'); return [0.5, 0.25]; } };
  const bad = { ...state, variables: { 'w/m': entry, 'w/v': { shape: [2], values: 'oops' } } };
  assert.throws(() => opt.setState(bad), /values of 'w\/v' must be a Float32Array/);
  assert.equal(stateOf(opt), before, 'nothing written');
  class Liar extends Float32Array {
    get byteOffset() { return 1 << 30; }
    get length() { return 1e6; }
  }
  opt.setState({ ...state, variables: { 'w/m': { shape: [2], values: new Liar([3, 4]) }, 'w/v': state.variables['w/v'] } });
  same(opt.getSlot(w, 'm').value, [3, 4]);
  // a lying dense gradient: the engine's length and offset are used
  const w2 = new Variable(new Float32Array([1, 2]), { name: 'w2' });
  const sgd = new SGD({ learningRate: 1, weightDecay: 0.5 });
  sgd.applyGradients([[new Liar([1, 1]), w2]]);
  same(w2.value, [0.5 - 1, 1 - 1].map(Math.fround));
  for (const x of [w, w2]) x.dispose();
});

// ---------------------------------------------------------------- 13: disposed variables

test('13: a refused setState after a variable was disposed rolls back exactly what it built', () => {
  const heap = defaultHeap();
  const a = new Variable(new Float32Array([1, 2]), { name: 'a' });
  const b = new Variable(new Float32Array([3]), { name: 'b' });
  const c = new Variable(new Float32Array([4]), { name: 'c' });
  const opt = new Adam();
  opt.applyGradients([[new Float32Array([1, 1]), a], [new Float32Array([1]), b]]);
  a.dispose(); // its slots are released by the next call
  const state = opt.getState();
  const live = heap.liveBytes;
  assert.throws(() => opt.setState({ ...state, variables: { ...state.variables, 'x/m': { shape: [1], values: [0] } } }, [c]), /the state has 'x\/m'/);
  assert.is(heap.liveBytes, live, 'nothing built for c is kept');
  assert.equal(opt.variables.map((v) => v.name), ['b/m', 'b/v']);
  for (const x of [b, c, opt]) x.dispose();
});

test('13: slots of disposed variables are released (200k steps with a temporary variable stay flat) and a re-created name saves', () => {
  const heap = defaultHeap();
  const keep = new Variable(new Float32Array(16), { name: 'keep' });
  const opt = new Adam({ useEma: true });
  let peak = 0;
  const g = new Float32Array(64);
  for (let i = 0; i < 20000; i++) {
    const tmp = new Variable(new Float32Array(64), { name: 'tmp' });
    opt.applyGradients([[g.subarray(0, 16), keep], [g, tmp]]);
    tmp.dispose();
    if (i === 100) peak = heap.memory.buffer.byteLength;
  }
  assert.is(heap.memory.buffer.byteLength, peak, 'no growth after warm-up');
  assert.ok(opt.variables.every((v) => !v.name.startsWith('tmp/')), 'no slot of a disposed variable is listed');
  const again = new Variable(new Float32Array(64), { name: 'tmp' });
  opt.applyGradients([[g, again]]);
  const bytes = opt.saveState(); // used to throw: two variables named 'tmp/m'
  assert.ok(bytes.length > 0);
  again.dispose();
  keep.dispose();
  opt.dispose();
});

// ---------------------------------------------------------------- 14, 17: options

test('14: every optimizer refuses unknown and snake_case options, in the constructor and in fromConfig', () => {
  for (const C of OPTIMIZERS) {
    assert.throws(() => new C({ learning_rate: 0.5 }), (e) => e instanceof TypeError && e.message.includes("unknown option 'learning_rate' (did you mean learningRate?)"), C.className);
    assert.throws(() => new C({ lernRate: 0.5 }), /unknown option 'lernRate'/, C.className);
    assert.throws(() => C.fromConfig({ ...new C().getConfig(), global_clipnorm: 1 }), /did you mean globalClipnorm\?/, C.className);
    // a config round trip still works
    assert.equal(C.fromConfig(new C().getConfig()).getConfig(), new C().getConfig());
  }
  assert.throws(() => new Adam({ beta_1: 0.8 }), /did you mean beta1\?/);
  assert.throws(() => new Lookahead(new Adam(), { sync_period: 2 }), /did you mean syncPeriod\?/);
  assert.throws(() => new SWA(new Adam(), { period: 2 }), /unknown option 'period'/);
});

test('17: the abstract base cannot be built from a config or constructed', () => {
  assert.throws(() => Optimizer.fromConfig({}), /Optimizer is abstract/);
  assert.throws(() => Reflect.construct(Optimizer, []), /Optimizer is abstract/);
});

test('16: a checkpoint naming a schedule class is refused clearly; setState values must be numbers', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const opt = new Adam();
  opt.applyGradients([[new Float32Array([1, 1]), w]]);
  const s = opt.getState();
  assert.throws(() => opt.setState({ ...s, variables: { ...s.variables, 'w/m': { shape: [2], values: ['a', {}] } } }), /values\[0\] is the string 'a'/);
  assert.throws(() => opt.setState({ ...s, iterations: 1e300 }), /not a safe integer/);
  w.dispose();
  opt.dispose();
});

// ---------------------------------------------------------------- 21: deferred restore

test('21: loadState on a fresh optimizer restores each variable when it is built (train 3 + save + load + 3 == train 6)', () => {
  for (const make of [() => new Adam({ learningRate: 0.05 }), () => new Nadam({ useEma: true }), () => new Lookahead(new Adam()), () => new SWA(new SGD({ momentum: 0.9 }), { startStep: 1, averagePeriod: 2 })]) {
    const grads = Array.from({ length: 6 }, (_, i) => [new Float32Array([Math.sin(i), Math.cos(i)]), new Float32Array([0.1 * i, -0.2, 0.3])]);
    const vars = () => [new Variable(new Float32Array([1, 2]), { name: 'a' }), new Variable(new Float32Array([3, 4, 5]), { name: 'b' })];
    const [a, b] = vars();
    const full = make();
    for (const [ga, gb] of grads) full.applyGradients([[ga, a], [gb, b]]);
    const [a2, b2] = vars();
    const first = make();
    for (const [ga, gb] of grads.slice(0, 3)) first.applyGradients([[ga, a2], [gb, b2]]);
    const bytes = first.saveState();
    const second = make();
    second.loadState(bytes); // no variables yet
    assert.ok(second.pendingState.length > 0, 'pending names');
    assert.is(second.iterations, 3);
    for (const [ga, gb] of grads.slice(3)) second.applyGradients([[ga, a2], [gb, b2]]);
    assert.equal(second.pendingState, [], 'every saved name matched');
    same(a2.value, a.value, `${full.getClassName()}: a`);
    same(b2.value, b.value, `${full.getClassName()}: b`);
    assert.equal(stateOf(second), stateOf(full), `${full.getClassName()}: slots`);
    for (const x of [a, b, a2, b2, full, first, second]) x.dispose();
  }
});

test('21: names that never matched are reported and kept by saveState', () => {
  const a = new Variable(new Float32Array([1, 2]), { name: 'a' });
  const src = new Adam();
  src.applyGradients([[new Float32Array([1, 1]), a]]);
  const bytes = src.saveState();
  const fresh = new Adam();
  fresh.loadState(bytes);
  const other = new Variable(new Float32Array([1]), { name: 'other' });
  fresh.applyGradients([[new Float32Array([1]), other]]);
  assert.equal([...fresh.pendingState].sort(), ['a/m', 'a/v']);
  const again = lib.Optimizer.fromCheckpoint(fresh.saveState());
  assert.equal([...again.pendingState].sort(), ['a/m', 'a/v', 'other/m', 'other/v']);
  for (const x of [a, other, src, fresh, again]) x.dispose();
});

// ---------------------------------------------------------------- 22, 23, 26

test('22: sparse gradients with duplicates under gradient accumulation equal the densified dense result exactly', () => {
  // values chosen so that adding duplicates one at a time rounds differently from summing first
  const rows = [1, 1, 1, 2];
  const values = new Float32Array([1e8, 3, -1e8, 0.5, 1, 1, 7, 0.25].map(Math.fround));
  const dense = new Float32Array(8);
  rows.forEach((r, n) => { for (let j = 0; j < 2; j++) dense[r * 2 + j] += values[n * 2 + j]; });
  const run = (sparse) => {
    const w = new Variable(new Float32Array(8), { shape: [4, 2], name: 't' });
    const opt = new SGD({ learningRate: 1, gradientAccumulationSteps: 2, lossScaleFactor: 4 });
    for (let i = 0; i < 4; i++) opt.applyGradients([[sparse ? { indices: rows, values } : dense, w]]);
    const out = [w.value.slice(), opt.getSlot(w, 'gradient_accumulator').value.slice()];
    w.dispose();
    opt.dispose();
    return out;
  };
  const [ws, as] = run(true);
  const [wd, ad] = run(false);
  same(ws, wd, 'weights');
  same(as, ad, 'accumulator');
});

test('23: getSlot reaches the EMA average and the gradient accumulator', () => {
  const w = new Variable(new Float32Array([1, 2]), { name: 'w' });
  const opt = new Adam({ useEma: true, gradientAccumulationSteps: 2 });
  opt.applyGradients([[new Float32Array([1, 1]), w]]);
  same(opt.getSlot(w, 'average').value, [1, 2]);
  same(opt.getSlot(w, 'gradient_accumulator').value, [1, 1]);
  assert.throws(() => new Adam().getSlot(w, 'average'), /no slot 'average'/);
  w.dispose();
});

test('26: excludeFromWeightDecay replaces earlier exclusions (Keras) and applies to built variables from the next step', () => {
  const a = new Variable(new Float32Array([1]), { name: 'dense/bias' });
  const b = new Variable(new Float32Array([1]), { name: 'dense/kernel' });
  const opt = new SGD({ learningRate: 1, weightDecay: 0.5 });
  const zero = new Float32Array(1);
  opt.excludeFromWeightDecay({ names: ['bias'] });
  opt.applyGradients([[zero, a], [zero, b]]);
  same([a.value[0], b.value[0]], [1, 0.5], 'bias excluded');
  opt.excludeFromWeightDecay({ names: ['kernel'] }); // replaces: bias decays again
  opt.applyGradients([[zero, a], [zero, b]]);
  same([a.value[0], b.value[0]], [0.5, 0.5], 'kernel excluded instead, after the variables were built');
  opt.excludeFromWeightDecay({ variables: [a] });
  opt.applyGradients([[zero, a], [zero, b]]);
  same([a.value[0], b.value[0]], [0.5, 0.25], 'by identity, names cleared');
  a.dispose();
  b.dispose();
});

test('the scratch a refused step allocated is given back (arena live bytes unchanged)', () => {
  const heap = defaultHeap();
  const w = new Variable(new Float32Array(64), { name: 'w', shape: [8, 8] });
  const opt = new Adam({ clipnorm: 1 });
  const live = heap.liveBytes;
  class Boom extends Adam {
    static className = 'Boom';
    build(v) {
      super.build(v);
      throw new Error('boom');
    }
  }
  const boom = new Boom();
  assert.throws(() => boom.applyGradients([[{ indices: [1, 1, 2], values: new Float32Array(24) }, w]]), /boom/);
  assert.is(heap.liveBytes, live);
  opt.dispose();
  w.dispose();
});

test.run();
