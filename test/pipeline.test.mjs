// The fused step pipeline (docs/pipeline.md): an optimizer that declares `fusesPipeline` unscales,
// clips, decays and averages (EMA) inside its kernel's one pass. The same optimizer with an
// overridden updateStep takes the separate passes; both must give the same bits, for every core
// optimizer, every base-option combination the pipeline touches, SIMD and scalar, weights, slots
// and averages, dense, null and sparse gradients in one step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as lib from '../build/index.js';
import { getRegisteredClass, LossScaleOptimizer, Optimizer, OptimizerWrapper, ready, setSimdEnabled, Variable } from '../build/index.js';
import { BASE, plainOf, sameBits, trajectory } from './helpers/fused-kernels.mjs';

await ready();

const registered = (C) => typeof C === 'function' && Object.prototype.hasOwnProperty.call(C, 'className') && getRegisteredClass(C.className) === C;
const CORE = Object.values(lib).filter((C) => registered(C) && C.prototype instanceof Optimizer && !(C.prototype instanceof OptimizerWrapper) && C !== LossScaleOptimizer && C !== lib.MultiOptimizer);

/** Each class's own-option variants (every one runs with every base configuration). */
const OWN = {
  SGD: [{}, { momentum: 0.9 }, { momentum: 0.9, nesterov: true }, { momentum: 0.9, stateDtype: 'int8' }],
  Adam: [{}, { amsgrad: true }, { stateDtype: 'int8' }, { amsgrad: true, stateDtype: 'int8' }],
  AdamW: [{}, { amsgrad: true }, { stateDtype: 'int8' }],
  LazyAdam: [{}, { stateDtype: 'int8' }],
  RMSprop: [{}, { momentum: 0.9 }, { centered: true }, { momentum: 0.5, centered: true }, { stateDtype: 'int8' }],
  Adagrad: [{}, { stateDtype: 'int8' }],
  Lion: [{}, { stateDtype: 'int8' }],
  Ftrl: [{}, { l1RegularizationStrength: 0.01, l2RegularizationStrength: 0.02, l2ShrinkageRegularizationStrength: 0.03, beta: 0.1 }, { learningRatePower: 0 }, { learningRatePower: -0.6 }],
  Yogi: [{}, { l1RegularizationStrength: 0.01, l2RegularizationStrength: 0.02 }, { beta1: 0, activation: 'tanh' }],
  RAdam: [{}, { amsgrad: true }, { totalSteps: 10, smaThreshold: 4 }],
  Adopt: [{}, { nesterov: true }, { useClipping: false }],
  Adan: [{}, { weightDecay: 0.02 }, { stateDtype: 'int8' }, { weightDecay: 0.02, stateDtype: 'int8' }],
  AdEMAMix: [{}, { weightDecay: 0.02, alpha: 2 }, { stateDtype: 'int8' }, { weightDecay: 0.02, alpha: 2, stateDtype: 'int8' }],
  Adafactor: [{}, { clipThreshold: 0.05 }],
  ScheduleFreeAdamW: [{}, { warmupSteps: 3 }],
  ScheduleFreeSGD: [{}, { weightDecay: 0.02, warmupSteps: 2 }],
  Muon: [{}, { nesterov: false, rmsRate: null }, { weightDecay: null, adamWeightDecay: null }],
  Prodigy: [{}, { weightDecay: 0.02, safeguardWarmup: true }],
};

// Variable 2 gets no gradient in one step; [9, 4] and [260, 20] get sparse gradients; [300, 17]
// and [260, 20] are large enough for 8-bit slots.
const SHAPES = [[1003], [7, 13], [5], [9, 4], [300, 17], [260, 20]];
const run = (make, options = {}) => trajectory(make, { shapes: SHAPES, ...options });

test("the int8 rows really run on 8-bit slots (the shapes are large enough)", () => {
  const v = new Variable(new Float32Array(5100), { shape: [300, 17], name: 'big' });
  for (const [C, o] of [[lib.Adam, {}], [lib.SGD, { momentum: 0.9 }], [lib.RMSprop, {}], [lib.Adagrad, {}], [lib.Lion, {}]]) {
    const opt = new C({ ...o, stateDtype: 'int8' });
    opt.prepare([v]);
    const slot = opt.getSlot(v, C === lib.SGD || C === lib.Lion ? 'momentum' : C === lib.RMSprop ? 'velocity' : C === lib.Adagrad ? 'accumulator' : 'm');
    assert.is(slot.constructor.name, 'QuantizedSlot', C.className);
    opt.dispose();
  }
  v.dispose();
});

test('the core optimizers that fuse the pipeline', () => {
  const fusing = CORE.filter((C) => C.fusesPipeline).map((C) => C.className).sort();
  // Every class with one update kernel per variable; the rest are listed in docs/pipeline.md.
  assert.ok(fusing.includes('Adam') && fusing.includes('AdamW') && fusing.includes('LazyAdam'), fusing.join());
  assert.is(plainOf(lib.Adam).fusesPipeline, true, 'the static is inherited...');
  assert.is(new (plainOf(lib.Adam))()['core'].fuses, false, '...but an overridden updateStep takes the separate passes');
  assert.is(new lib.Adam()['core'].fuses, true);
});

for (const simd of [true, false]) {
  test(`fused pipeline = separate passes, bit for bit, every core optimizer (SIMD ${simd ? 'on' : 'off'})`, () => {
    setSimdEnabled(simd);
    try {
      for (const C of CORE) {
        for (const own of OWN[C.className] ?? [{}]) {
          for (const base of BASE) {
            const options = { learningRate: 0.01, ...own, ...base };
            const what = `${C.className} ${JSON.stringify(options)}`;
            const P = plainOf(C);
            sameBits(run(() => new C(options), { nan: !!base.skipNonFinite }), run(() => new P(options), { nan: !!base.skipNonFinite }), what);
          }
        }
      }
    } finally {
      setSimdEnabled(true);
    }
  });
}

test('sumSquares: SIMD and scalar give the same bits, for any size; its relative error is below 1e-7', () => {
  const K = lib.defaultHeap().kernels;
  for (const n of [1, 3, 63, 64, 65, 127, 1000, 65536, 65537, 200003]) {
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 13)) * 10 ** ((i % 7) - 3));
    const v = new Variable(a, { name: `x${n}` });
    setSimdEnabled(true);
    const simd = K.sumSquares(v.ptr, n);
    setSimdEnabled(false);
    const scalar = K.sumSquares(v.ptr, n);
    setSimdEnabled(true);
    let exact = 0;
    for (let i = 0; i < n; i++) exact += a[i] * a[i];
    assert.is(simd, scalar, `n = ${n}`);
    assert.ok(Math.abs(simd - exact) <= 1e-7 * exact, `n = ${n}: ${simd} vs ${exact}`);
    v.dispose();
  }
});

test('allFinite finds a NaN or an infinity anywhere (in a group of 16, in the tail), SIMD and scalar', () => {
  const K = lib.defaultHeap().kernels;
  for (const simd of [true, false]) {
    setSimdEnabled(simd);
    for (const n of [1, 15, 16, 17, 100, 1029]) {
      const v = new Variable(new Float32Array(n).fill(2), { name: `f${n}` });
      assert.is(K.allFinite(v.ptr, n), 1);
      for (const at of [0, n >> 1, n - 1]) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          v.value[at] = bad;
          assert.is(K.allFinite(v.ptr, n), 0, `n ${n}, ${bad} at ${at}, SIMD ${simd}`);
          v.value[at] = -3e38; // finite: still finite after x * 0
          assert.is(K.allFinite(v.ptr, n), 1);
        }
      }
      v.dispose();
    }
  }
  setSimdEnabled(true);
});

test('LossScaleOptimizer: the unscaling folds into the inner kernel, bit for bit', () => {
  for (const inner of [{}, { weightDecay: 0.05, useEma: true }, { globalClipnorm: 1 }, { clipvalue: 0.2 }]) {
    for (const initialScale of [2 ** 15, 0.5, 1000]) { // 1000: not a power of two, the kernel divides
      const what = `LossScaleOptimizer(AdamW ${JSON.stringify(inner)}), initialScale ${initialScale}`;
      const P = plainOf(lib.AdamW);
      for (const big of [false, true]) {
        const fused = run(() => new LossScaleOptimizer(new lib.AdamW({ learningRate: 0.01, ...inner }), { initialScale, dynamicGrowthSteps: 2 }), { big });
        const plain = run(() => new LossScaleOptimizer(new P({ learningRate: 0.01, ...inner }), { initialScale, dynamicGrowthSteps: 2 }), { big });
        sameBits(fused, plain, `${what}${big ? ', a gradient of 3e38' : ''}`);
        // The last array holds [iterations, nonFiniteSkips]: 3e38 / 0.5 overflows, 3e38 / 2**15 does not.
        assert.equal(Array.from(fused.out.at(-1)), big && initialScale < 1 ? [4, 1] : [5, 0], what);
      }
    }
  }
});

test.run();
