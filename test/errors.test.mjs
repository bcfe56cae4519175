// docs/errors.md, row by row: every documented bad input raises the documented error type with a
// message containing the documented text, and changes nothing (variable values, optimizer state,
// iterations, state variables, options, the arena's live bytes and size).
//
// Rows are matched to cases by id. Families of rows run for every class they apply to:
//   base.*            every registered optimizer class (not the wrappers): new C(<input>)
//   ctor.<Class>.*    that exported class: new C(<input>), or new C(new Adam(), <input>) for a wrapper
//   apply.*           every registered optimizer class, wrappers around an Adam
//   wrapper.*         every registered subclass of OptimizerWrapper
//   schedule.options  every registered schedule class
//   kernels.*         every kernels function and argument (SIGNATURES below)
//   ready.*, readySync.*, notready.*   in a fresh process, before ready()
// Every other row has a hand-written case in CASES. A row without a case, a case without a row, an
// option of an exported optimizer or schedule without a ctor.* row, a base option without a base.*
// row, or a kernels function missing from SIGNATURES fails the test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as lib from '../build/index.js';
import { repoFile } from './helpers/load-ts.mjs';
import { crc32, frame } from './helpers/checkpoint.mjs';

const {
  ready, Variable, Optimizer, OptimizerWrapper, LearningRateSchedule, Arena, Adam, SGD, LossScaleOptimizer, SWA, Lookahead, MultiOptimizer, OptimizerMap,
  defaultHeap, instantiateKernels, kernelModule, kernels, registerClass, getRegisteredClass, deserialize,
} = lib;
await ready();

// ---------------------------------------------------------------- docs/errors.md

/** The first code span of a cell (any number of backticks), or null. */
function codeSpan(cell) {
  const m = /(`+)([\s\S]+?)\1(?!`)/.exec(cell);
  if (!m) return null;
  const s = m[2];
  return s.startsWith(' ') && s.endsWith(' ') && s.trim() ? s.slice(1, -1) : s;
}

function parseRows() {
  const md = readFileSync(repoFile('docs', 'errors.md'), 'utf8');
  const rows = [];
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.slice(1, line.endsWith('|') ? -1 : undefined).split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
    const [id, fn, input, type, message] = cells;
    if (!/^[a-z][\w.-]*$/.test(id) || id === 'id') continue;
    if (id.startsWith('tfjs.')) continue; // test/errors-tfjs.test.mjs checks the tfjs entry's rows
    rows.push({ id, fn, input, type, message: codeSpan(message), literal: codeSpan(input), line });
  }
  return rows;
}
const ROWS = parseRows();
const evalLiteral = (src) => Function(`"use strict"; return (${src});`)();

// ---------------------------------------------------------------- classes the package exports

const registered = (C) => typeof C === 'function' && Object.prototype.hasOwnProperty.call(C, 'className') && getRegisteredClass(C.className) === C;
const OPTIMIZERS = Object.values(lib).filter((C) => registered(C) && C.prototype instanceof Optimizer);
/** Wrappers take (inner, options); every other optimizer takes (options). */
const isWrapperClass = (C) => C.length >= 1;
const CORE = OPTIMIZERS.filter((C) => !isWrapperClass(C));
const WRAPPERS = OPTIMIZERS.filter((C) => C.prototype instanceof OptimizerWrapper);
const SCHEDULES = Object.values(lib).filter((C) => registered(C) && C.prototype instanceof LearningRateSchedule);
/** The optimizer whose checks run in a step: a wrapper's inner optimizer. */
const validatorOf = (opt) => (opt.inner instanceof Optimizer ? opt.inner.getClassName() : opt.getClassName());

/** Options of a schedule that are valid, to read its option names from getConfig(). */
const VALID_SCHEDULE_OPTIONS = {
  CosineDecay: { initialLearningRate: 0.1, decaySteps: 10 },
  CosineDecayRestarts: { initialLearningRate: 0.1, firstDecaySteps: 10 },
  ExponentialDecay: { initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 },
  InverseTimeDecay: { initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 },
  PiecewiseConstantDecay: { boundaries: [10], values: [1, 0.5] },
  PolynomialDecay: { initialLearningRate: 0.1, decaySteps: 10 },
  ConstantSchedule: { value: 0.1 },
  LinearSchedule: { initialValue: 0.1, endValue: 0, transitionSteps: 10 },
  WarmupCosineDecay: { initialValue: 0, peakValue: 0.1, warmupSteps: 5, decaySteps: 50 },
  OneCycle: { maxLearningRate: 0.1, totalSteps: 100 },
  OneCycleMomentum: { totalSteps: 100 },
  JoinSchedules: { schedules: [new lib.ConstantSchedule({ value: 0.1 })], boundaries: [] },
};

/** Argument names of every kernels function: arrays first, then numbers. */
const SIGNATURES = {
  axpy: { arrays: ['y', 'x'], scalars: ['a'] },
  scale: { arrays: ['x'], scalars: ['a'] },
  scaleCopy: { arrays: ['dst', 'src'], scalars: ['a'] },
  copy: { arrays: ['dst', 'src'], scalars: [] },
  fill: { arrays: ['x'], scalars: ['value'] },
  ema: { arrays: ['avg', 'x'], scalars: ['momentum'] },
  clipByValue: { arrays: ['x'], scalars: ['c'] },
  sumSquares: { arrays: ['x'], scalars: [] },
  norm: { arrays: ['x'], scalars: [] },
  allFinite: { arrays: ['x'], scalars: [] },
  // A function that takes an array or a number in one place lists both forms.
  mul: [{ arrays: ['x', 'y'], scalars: [] }, { arrays: ['x'], scalars: ['y'] }],
  div: [{ arrays: ['x', 'y'], scalars: [] }, { arrays: ['x'], scalars: ['y'] }],
  sqrt: { arrays: ['x'], scalars: [] },
  addcmul: { arrays: ['x', 't1', 't2'], scalars: ['value'] },
  addcdiv: { arrays: ['x', 't1', 't2'], scalars: ['value'] },
  lerp: [{ arrays: ['x', 'end'], scalars: ['weight'] }, { arrays: ['x', 'end', 'weight'], scalars: [] }],
  maximum: { arrays: ['x', 'y'], scalars: [] },
  sign: { arrays: ['x'], scalars: [] },
};

// ---------------------------------------------------------------- what "nothing changed" means

function describe(x) {
  if (typeof x === 'function') return x();
  if (x instanceof Variable) return x.disposed ? 'disposed' : ['variable', x.name, x.shape, Array.from(x.value)];
  if (x instanceof Arena) return ['arena', x.liveBytes, x.memory.buffer.byteLength, x.freeBlocks];
  if (x instanceof Optimizer) {
    if (x.disposed) return 'disposed optimizer';
    const attempt = (f) => {
      try {
        return f();
      } catch (e) {
        return `throws: ${e.message}`;
      }
    };
    return [
      'optimizer', x.getClassName(), x.iterations, x.variables.length, x.nonFiniteSkips ?? null, x.dynamicScale ?? null,
      // Two private fields no public getter shows: the variables the optimizer has built, and the
      // arena it is bound to. A refused call must not leave a half-built record or a binding.
      x.core?.all?.length ?? null, x.core?.heap ? 'bound' : 'unbound',
      attempt(() => x.learningRate), attempt(() => x.getConfig()),
      attempt(() => {
        const s = x.getState();
        return [s.iterations, Object.entries(s.variables).map(([k, e]) => [k, e.shape, Array.from(e.values)])];
      }),
    ];
  }
  return x;
}
const snapshot = (watch) => JSON.stringify([describe(defaultHeap()), ...watch.map(describe)]);

/** Runs one check; returns a failure message or null. */
function check(row, { label = '', run, watch = [], message = row.message, type = row.type }) {
  const where = `${row.id}${label ? ` [${label}]` : ''}`;
  const before = snapshot(watch);
  let error = null;
  try {
    run();
  } catch (e) {
    error = e;
  }
  if (!error) return `${where}: no error was thrown (expected ${type}: ${message})`;
  if (error.name !== type) return `${where}: expected a ${type}, got ${error.name}: ${error.message}`;
  if (!error.message.includes(message)) return `${where}: the message is\n      ${error.message}\n    docs/errors.md says\n      ${message}`;
  const after = snapshot(watch);
  if (after !== before) {
    let i = 0;
    while (before[i] === after[i]) i++;
    const at = Math.max(0, i - 160);
    return `${where}: the error changed state (first difference at character ${i}):\n      before …${before.slice(at, i + 80)}\n      after  …${after.slice(at, i + 80)}`;
  }
  return null;
}

// ---------------------------------------------------------------- fixtures

/** Tracks what a case creates, to dispose it afterwards. */
function fixtures() {
  const made = [];
  const track = (x) => (made.push(x), x);
  const other = (() => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    return new Arena(memory, instantiateKernels(kernelModule(), memory));
  })();
  return {
    other,
    v: (values, name, shape, heap) => track(new Variable(Float32Array.from(values), { name, ...(shape ? { shape } : {}) }, heap)),
    zeros: (shape, name, heap) => track(Variable.zeros(shape, { name }, heap)),
    gone: (name = 'gone', shape = [2]) => {
      const v = Variable.zeros(shape, { name });
      v.dispose();
      return v;
    },
    opt: (o) => track(o),
    dispose: () => {
      for (const x of made.reverse()) x.dispose();
    },
  };
}

/** A schedule-free optimizer built for w = [1, 2] (name 'w'), one step taken, its state saved, then (atX) at x. */
function atX(f, C, evaluate = true) {
  const w = f.v([1, 2], 'w');
  const o = f.opt(new C({ learningRate: 0.1 }));
  o.applyGradients([[new Float32Array([0.5, -0.5]), w]]);
  const state = o.getState();
  const bytes = o.saveState();
  if (evaluate) o.evalParams();
  return { w, o, state, bytes };
}

/** The docs/errors.md row `id`. */
const row = (id) => ROWS.find((r) => r.id === id);

/** An Adam built for w = [1, 2] (name 'w'), one step taken; its getState() and saveState(). */
function builtAdam(f, name = 'w') {
  const w = f.v([1, 2], name);
  const o = f.opt(new Adam({ learningRate: 0.1 }));
  o.applyGradients([[new Float32Array([0.5, -0.5]), w]]);
  return { w, o, state: o.getState(), bytes: o.saveState() };
}



/** An Adam with 8-bit state built for a 4,096-element 'w', one step taken; its getState() and saveState(). */
function builtInt8(f) {
  const w = f.v(Array.from({ length: 4096 }, (_, i) => Math.sin(i)), 'w');
  const o = f.opt(new Adam({ learningRate: 0.1, stateDtype: 'int8' }));
  o.applyGradients([[Float32Array.from({ length: 4096 }, (_, i) => Math.cos(i) * 0.01), w]]);
  return { w, o, state: o.getState(), bytes: o.saveState() };
}

const headerOf = (variables, className = 'Adam') => JSON.stringify({ className, config: {}, iterations: 1, variables });

/** A minimal subclass for the contract rows; `plan` says what its build() does. */
class Custom extends Optimizer {
  static className = 'Custom';
  constructor(plan) {
    super({});
    this.plan = plan;
  }
  build(variables) {
    for (const v of variables) this.plan(this, v);
  }
  updateStep() {}
  callAddVariable() {
    return this.addVariable('x');
  }
}

// ---------------------------------------------------------------- hand-written cases

// kernel(): the definition the docs/errors.md rows name, with one option or the body replaced.
const K_BASE = { name: 'k', arrays: { w: 'inout', g: 'in' }, scalars: ['lr'], body: ({ w, g }, { lr }) => ({ w: w.sub(g.mul(lr)) }) };
const kdef = (over) => () => lib.kernel({ ...K_BASE, ...over });
/** A compiled kernel and two fresh Variables of 5 elements, watched: a refused run writes nothing. */
function krun(args) {
  const k = lib.kernel(K_BASE);
  const w = new Variable(new Float32Array([1, 2, 3, 4, 5]), { name: 'kw' });
  const g = new Variable(new Float32Array(5).fill(1), { name: 'kg' });
  return [{ run: () => k.run(...args(w, g)), watch: [w, g] }];
}
/** As krun, with the kernel declared with the step pipeline (weight w, gradient g); `call(k, w, g)` runs it. */
function kpipe(call) {
  const k = lib.kernel({ ...K_BASE, pipeline: { weight: 'w', gradient: 'g' } });
  const w = new Variable(new Float32Array([1, 2, 3, 4, 5]), { name: 'kw' });
  const g = new Variable(new Float32Array(5).fill(1), { name: 'kg' });
  return [{ run: () => call(k, w, g), watch: [w, g] }];
}

const CASES = {
  // Variable
  'variable.values': () => [{ run: () => new Variable(5) }, { label: 'a length that is not a count', run: () => new Variable({ length: -1 }) }],
  'variable.options': () => [{ run: () => new Variable([1], null) }, { label: 'a number', message: 'Variable: options must be an object, got number', run: () => new Variable([1], 5) }],
  'variable.shape-type': () => [{ run: () => new Variable([1, 2], { shape: '2x2' }) }],
  'variable.shape-dims': () => [{ run: () => new Variable([1, 2], { shape: [2, 0] }) }],
  'variable.shape-size': () => [{ run: () => new Variable([1, 2, 3], { shape: [2, 2] }) }],
  'variable.empty': () => [{ run: () => new Variable([]) }],
  'variable.name': () => [{ run: () => new Variable([1], { name: '' }) }, { label: 'a number', run: () => new Variable([1], { name: 5 }) }],
  'variable.assign-length': (f) => {
    const w = f.v([1, 2, 3], 'w');
    return [{ run: () => w.assign([1, 2]), watch: [w] }];
  },
  'variable.assign-type': (f) => {
    const w = f.v([1, 2, 3], 'w');
    return [{ run: () => w.assign(null), watch: [w] }];
  },
  'variable.disposed-value': (f) => [{ run: () => f.gone('w').value }],
  'variable.disposed-ptr': (f) => [{ run: () => f.gone('w').ptr }],
  'variable.disposed-assign': (f) => [{ run: () => f.gone('w').assign([1, 2]) }],
  'variable.zeros-shape': () => [{ run: () => Variable.zeros('x') }],
  'variable.wrap-shape': () => [{ run: () => Variable.wrap(defaultHeap(), 16, [2, 1.5]) }],
  'variable.wrap-ptr': () => [{ run: () => Variable.wrap(defaultHeap(), 3, [2]) }],
  'variable.wrap-range': () => [{ run: () => Variable.wrap(defaultHeap(), defaultHeap().memory.buffer.byteLength - 4, [2]) }],
  'variable.rebind-owned': (f) => {
    const w = f.v([1, 2, 3], 'w');
    return [{ run: () => w.rebind(w.ptr), watch: [w] }];
  },
  'variable.rebind-ptr': () => {
    const heap = defaultHeap();
    const block = heap.alloc(12);
    const wrapped = Variable.wrap(heap, block, [3], { name: 'wrapped' });
    return [{ run: () => wrapped.rebind(-4), watch: [wrapped, () => wrapped.ptr], after: () => heap.free(block) }];
  },
  'variable.rebind-disposed': () => {
    const heap = defaultHeap();
    const block = heap.alloc(12);
    const wrapped = Variable.wrap(heap, block, [3], { name: 'wrapped' });
    wrapped.dispose();
    return [{ run: () => wrapped.rebind(block), after: () => heap.free(block) }];
  },

  // Arena and low-level
  'arena.setGuards': (f) => {
    const a = f.other;
    // the guard size in force shows in the size of a new block
    const probe = () => {
      const p = a.alloc(16);
      const size = a.sizeOf(p);
      a.free(p);
      return size;
    };
    return [{ run: () => a.setGuards(8), watch: [a, probe] }];
  },
  'arena.free': (f) => [{ run: () => f.other.free(4096), watch: [f.other] }],
  'arena.alloc-oom': (f) => [{ run: () => f.other.alloc(2 ** 33), watch: [f.other] }],
  'arena.checkGuards': (f) => {
    const a = f.other;
    a.setGuards(16);
    const p = a.alloc(16);
    const bytes = () => new Uint8Array(a.memory.buffer);
    bytes()[p + 16] = 0;
    return [
      { label: 'checkGuards', run: () => a.checkGuards(), watch: [a] },
      { label: 'free', run: () => a.free(p), watch: [a], after: () => ((bytes()[p + 16] = 0xa5), a.free(p)) },
    ];
  },
  'instantiateKernels.module': () => [{ run: () => instantiateKernels(5, new WebAssembly.Memory({ initial: 1 })) }],

  // Optimizer methods
  'opt.learningRate-set': () => {
    const o = new Adam();
    return [{
      run: () => {
        o.learningRate = -1;
      },
      watch: [o],
    }];
  },
  'opt.prepare-array': (f) => {
    const o = f.opt(new Adam());
    return [{ run: () => o.prepare('w'), watch: [o] }];
  },
  'opt.prepare-variable': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Adam());
    return [{ run: () => o.prepare([w, {}]), watch: [o, w] }];
  },
  'opt.prepare-disposed': (f) => {
    const o = f.opt(new Adam());
    return [{ run: () => o.prepare([f.gone()]), watch: [o] }];
  },
  'opt.prepare-heap': (f) => {
    const { o } = builtAdam(f);
    const elsewhere = f.zeros([2], 'elsewhere', f.other);
    return [{ run: () => o.prepare([elsewhere]), watch: [o, f.other] }];
  },
  'opt.prepare-mixed': (f) => {
    const w = f.v([1, 2], 'w');
    const elsewhere = f.zeros([2], 'elsewhere', f.other);
    const o = f.opt(new Adam());
    return [{ run: () => o.prepare([w, elsewhere]), watch: [o, f.other] }];
  },
  'opt.prepare-disposed-optimizer': (f) => {
    const w = f.v([1, 2], 'w');
    const o = new Adam();
    o.dispose();
    return [{ run: () => o.prepare([w]), watch: [w] }];
  },
  'opt.getSlot': (f) => {
    const { o, w } = builtAdam(f);
    return [{ run: () => o.getSlot(w, 'nope'), watch: [o, w] }];
  },
  'opt.exclude-variables': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Adam({ weightDecay: 0.1 }));
    // the exclusion lists (private fields)
    return [{ run: () => o.excludeFromWeightDecay({ variables: [w, 5] }), watch: [o, () => [o.core.excludedVars.size, String(o.core.excludedNames)]] }];
  },
  'opt.exclude-names': (f) => {
    const o = f.opt(new Adam({ weightDecay: 0.1 }));
    return [{ run: () => o.excludeFromWeightDecay({ names: 'bias' }), watch: [o, () => [o.core.excludedVars.size, String(o.core.excludedNames)]] }];
  },
  'opt.finalize-disposed': () => {
    const o = new Adam({ useEma: true });
    o.dispose();
    return [{ run: () => o.finalizeVariableValues() }];
  },
  'opt.getConfig-function': (f) => {
    const o = f.opt(new Adam({ learningRate: () => 0.1 }));
    return [{ run: () => o.getConfig(), watch: [o] }];
  },
  'opt.fromConfig': () => [{ run: () => Adam.fromConfig(null) }],
  'opt.fromConfig-schedule': () => [{ run: () => Adam.fromConfig({ learningRate: { className: 'Nope', config: {} } }) }],

  // Schedules whose bad input needs schedule instances (test/schedules-extra.test.mjs has the values)
  'onecycle.momentum-off': () => [{ run: () => new lib.OneCycle({ maxLearningRate: 0.1, totalSteps: 10, cycleMomentum: false }).momentum() }],
  'ctor.JoinSchedules.boundaries': () => {
    const a = new lib.ConstantSchedule({ value: 0.1 });
    return [{ run: () => new lib.JoinSchedules({ schedules: [a, a], boundaries: [] }) }];
  },
  'ctor.JoinSchedules.boundaries.integer': () => {
    const a = new lib.ConstantSchedule({ value: 0.1 });
    return [{ run: () => new lib.JoinSchedules({ schedules: [a, a], boundaries: [-1] }) }];
  },
  'ctor.JoinSchedules.boundaries.order': () => {
    const a = new lib.ConstantSchedule({ value: 0.1 });
    return [{ run: () => new lib.JoinSchedules({ schedules: [a, a, a], boundaries: [5, 5] }) }];
  },
  'join.fromConfig-unknown': () => [{ run: () => lib.JoinSchedules.fromConfig({ schedules: [{ className: 'Nope', config: {} }], boundaries: [] }) }],
  'warmup.schedule': () => [{ run: () => lib.warmup(0.1, { warmupSteps: 2 }) }],
  'warmup.options': () => [{ run: () => lib.warmup(new lib.ConstantSchedule({ value: 0.1 })) }],
  'warmup.unknown-option': () => [{ run: () => lib.warmup(new lib.ConstantSchedule({ value: 0.1 }), { warmup_steps: 3 }) }],
  'warmup.warmupSteps': () => [{ run: () => lib.warmup(new lib.ConstantSchedule({ value: 0.1 }), { warmupSteps: -2 }) }],
  'warmup.initialValue': () => [{ run: () => lib.warmup(new lib.ConstantSchedule({ value: 0.1 }), { warmupSteps: 2, initialValue: 1e39 }) }],
  'warmup.target': () => {
    class Negative extends LearningRateSchedule {
      static className = 'test.Negative';
      call() {
        return -1;
      }
      getConfig() {
        return {};
      }
    }
    return [{ run: () => lib.warmup(new Negative(), { warmupSteps: 2 }) }];
  },

  // State and checkpoints
  'state.getState-names': (f) => {
    const a = f.v([1, 2], 'dup');
    const b = f.v([3, 4], 'dup');
    const o = f.opt(new Adam());
    o.applyGradients([[new Float32Array(2), a], [new Float32Array(2), b]]);
    return [{ label: 'getState', run: () => o.getState(), watch: [o, a, b] }, { label: 'saveState', run: () => o.saveState(), watch: [o, a, b] }];
  },
  // 8-bit state (docs/int8-state.md): an Adam with stateDtype 'int8' built for a 4,096-element 'w'.
  'variable.assign-int8': (f) => {
    const { o, w } = builtInt8(f);
    return [{ run: () => o.getSlot(w, 'm').assign(new Float32Array(4096)), watch: [o, w] }];
  },
  'state.setState-quantized': (f) => {
    const { o, w, state } = builtInt8(f);
    state.variables['w/m'].quantized.codes[0] = 0x7f;
    return [{ run: () => o.setState(state), watch: [o, w] }];
  },
  'state.loadState-quantized': (f) => {
    const { o, w, bytes } = builtInt8(f);
    const dv = new DataView(bytes.buffer);
    const data = (12 + dv.getUint32(8, true) + 3) & ~3;
    bytes[data + 16 * 4] = 0x7f; // 'w/m' is first: 16 absmax floats, then its codes
    dv.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
    return [{ run: () => o.loadState(bytes), watch: [o, w] }];
  },
  'state.getState-disposed': () => {
    const o = new Adam();
    o.dispose();
    return [{ run: () => o.getState() }];
  },
  ...Object.fromEntries(
    [
      ['state.setState-type', () => null],
      ['state.setState-class', (s, f) => {
        const sgd = f.opt(new SGD({ momentum: 0.9 }));
        sgd.applyGradients([[new Float32Array(2), f.v([1, 2], 'w2')]]);
        return sgd.getState();
      }],
      ['state.setState-iterations', (s) => ({ ...s, iterations: -1 })],
      ['state.setState-extra', (s) => ({ ...s, variables: { ...s.variables, 'z/m': { shape: [2], values: [0, 0] } } })],
      ['state.setState-lacks', (s) => ({ ...s, variables: { 'w/m': s.variables['w/m'] } })],
      ['state.setState-shape', (s) => ({ ...s, variables: { ...s.variables, 'w/m': { shape: [3], values: [1, 2, 3] } } })],
      ['state.setState-values-type', (s) => ({ ...s, variables: { ...s.variables, 'w/m': { shape: [2], values: 'ab' } } })],
      ['state.setState-values-length', (s) => ({ ...s, variables: { ...s.variables, 'w/m': { shape: [2], values: [1] } } })],
    ].map(([id, bad]) => [id, (f) => {
      const { o, w, state } = builtAdam(f);
      const input = bad(state, f);
      return [{ run: () => o.setState(input), watch: [o, w] }];
    }]),
  ),
  'state.setState-fresh': (f) => {
    const w = f.v([1, 2], 'w');
    const fresh = f.opt(new Adam());
    return [{ run: () => fresh.setState({ className: 'Adam', iterations: 0, variables: {} }, [w]), watch: [fresh, w] }];
  },
  'state.setState-variables': (f) => {
    const { state } = builtAdam(f);
    const fresh = f.opt(new Adam());
    return [{ run: () => fresh.setState(state, [f.gone()]), watch: [fresh] }];
  },
  'state.setState-disposed': (f) => {
    const { state } = builtAdam(f);
    const o = new Adam();
    o.dispose();
    return [{ run: () => o.setState(state) }];
  },
  'state.saveState-function': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Adam({ learningRate: () => 0.1 }));
    o.applyGradients([[new Float32Array(2), w]]);
    return [{ run: () => o.saveState(), watch: [o, w] }];
  },
  // issue #10: refusals of the check-once, atomic step and of state input
  'state.fromCheckpoint-schedule': () => {
    const header = JSON.stringify({ className: 'ExponentialDecay', config: { initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.9 }, iterations: 0, variables: [] });
    const bytes = frame(header);
    return [{ run: () => Optimizer.fromCheckpoint(bytes, []) }];
  },
  ...Object.fromEntries(
    [
      ['state.setState-values-number', (s) => ({ ...s, variables: { ...s.variables, 'w/m': { shape: [2], values: ['a', {}] } } })],
      ['state.setState-values-overflow', (s) => ({ ...s, variables: { ...s.variables, 'w/m': { shape: [2], values: [1e39, 0] } } })],
      ['state.setState-iterations-safe', (s) => ({ ...s, iterations: 1e300 })],
      ['state.setState-entry', (s) => ({ ...s, variables: { ...s.variables, 'w/m': null } })],
      ['state.setState-shape-type', (s) => ({ ...s, variables: { ...s.variables, 'w/m': { shape: '2', values: [1, 2] } } })],
    ].map(([id, bad]) => [id, (f) => {
      const { o, w, state } = builtAdam(f);
      const input = bad(state, f);
      return [{ run: () => o.setState(input), watch: [o, w] }];
    }]),
  ),
  'state.restore-shape': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Adam());
    const slot = { shape: [3], values: [0, 0, 0] };
    o.setState({ className: 'Adam', iterations: 1, variables: { 'w/m': slot, 'w/v': slot } });
    return [{ run: () => o.applyGradients([[new Float32Array(2), w]]), watch: [o, w] }];
  },
  'opt.abstract-fromConfig': () => [{ run: () => Optimizer.fromConfig({}) }],
  'opt.abstract-new': () => [{ run: () => Reflect.construct(Optimizer, [{}]) }],
  'opt.exclude-unknown': (f) => {
    const { o, w } = builtAdam(f);
    return [{ run: () => o.excludeFromWeightDecay({ variable: [] }), watch: [o, w] }];
  },
  'opt.subclass-unknown': () => {
    class Sub extends Optimizer {
      static className = 'Sub';
      updateStep() {}
    }
    return [{ run: () => new Sub({ beta: 0.5 }) }];
  },
  'step.reentrant-apply': (f) => {
    const w = f.v([1, 2], 'w');
    const g = new Float32Array([0.5, -0.5]);
    const o = f.opt(new Adam({ learningRate: () => (o.applyGradients([[g, w]]), 0.1) }));
    return [{ run: () => o.applyGradients([[g, w]]), watch: [o, w] }];
  },
  'step.reentrant-state': (f) => {
    const w = f.v([1, 2], 'w');
    const calls = {
      setState: (self) => self.setState({ className: 'Custom', iterations: 0, variables: {} }),
      loadState: (self) => self.loadState(new Uint8Array(16)),
      prepare: (self) => self.prepare([w]),
      dispose: (self) => self.dispose(),
      excludeFromWeightDecay: (self) => self.excludeFromWeightDecay({ names: ['w'] }),
      finalizeVariableValues: (self) => self.finalizeVariableValues(),
    };
    return Object.entries(calls).map(([name, call]) => {
      const o = f.opt(new Custom((self) => call(self)));
      return { label: name, message: `Custom.${name}: called from inside applyGradients`, run: () => o.applyGradients([[new Float32Array(2), w]]), watch: [o, w] };
    });
  },
  'step.disposed-in-build': (f) => {
    const w = f.v([1, 2], 'w');
    const block = f.zeros([2], 'block');
    const u = Variable.wrap(defaultHeap(), block.ptr, [2], { name: 'u' }); // disposing it frees nothing
    const o = f.opt(new Custom((self, v) => v === w && u.dispose()));
    return [{ run: () => o.applyGradients([[new Float32Array(2), w], [new Float32Array(2), u]]), watch: [o, w] }];
  },
  'step.sparse-scalar': (f) => {
    const s = f.v([2], 's', []);
    const o = f.opt(new Adam());
    return [{ run: () => o.applyGradients([[{ indices: [0], values: new Float32Array(1) }, s]]), watch: [o, s] }];
  },
  'state.saveState-name': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Custom((self) => self.addVariable('constructor')));
    o.prepare([w]);
    return [{ run: () => o.saveState(), watch: [o, w] }];
  },
  'state.saveState-disposed': () => {
    const o = new Adam();
    o.dispose();
    return [{ run: () => o.saveState() }];
  },
  ...Object.fromEntries(
    [
      ['state.loadState-type', (b) => b.buffer],
      ['state.loadState-short', () => new Uint8Array(3)],
      ['state.loadState-magic', (b) => b.map((x, i) => (i === 0 ? x ^ 0xff : x))],
      ['state.loadState-version', (b) => b.map((x, i) => (i === 4 ? 3 : x))],
      ['state.loadState-checksum', (b) => b.map((x, i) => (i === b.length - 9 ? x ^ 1 : x))],
      ['state.loadState-header-length', () => frame(headerOf([]), [], { headerLength: 1 << 20 })],
      ['state.loadState-header-json', () => frame('{not json')],
      ['state.loadState-header', () => frame(JSON.stringify({ className: 'Adam', config: {}, iterations: 0 }))],
      ['state.loadState-entry', () => frame(headerOf([{ name: 'w/m', shape: [0] }]))],
      ['state.loadState-data', () => frame(headerOf([{ name: 'w/m', shape: [2] }]))],
      ['state.loadState-trailing', () => frame(headerOf([{ name: 'w/m', shape: [2] }, { name: 'w/v', shape: [2] }]), [0, 0, 0, 0, 0])],
      ['state.loadState-duplicate', () => frame(headerOf([{ name: 'w/m', shape: [2] }, { name: 'w/m', shape: [2] }, { name: 'w/v', shape: [2] }]), [0, 0, 0, 0, 0, 0])],
      ['state.loadState-name', () => frame(headerOf([{ name: '__proto__', shape: [2] }]), [0, 0])],
      ['state.loadState-iterations', () => frame(JSON.stringify({ className: 'Adam', config: {}, iterations: 1e300, variables: [] }))],
      ['state.loadState-config', () => frame(JSON.stringify({ className: 'Adam', config: [], iterations: 1, variables: [] }))],
      ['state.loadState-class-name', () => frame(JSON.stringify({ className: '', config: {}, iterations: 1, variables: [] }))],
      ['state.loadState-class', (b, f) => {
        const sgd = f.opt(new SGD({ momentum: 0.9 }));
        sgd.applyGradients([[new Float32Array(2), f.v([1, 2], 'w2')]]);
        return sgd.saveState();
      }],
      ['state.loadState-lacks', () => new Adam().saveState()],
    ].map(([id, bad]) => [id, (f) => {
      const { o, w, bytes } = builtAdam(f);
      const input = bad(bytes, f);
      return [{ run: () => o.loadState(input), watch: [o, w] }];
    }]),
  ),
  'state.loadState-disposed': (f) => {
    const { bytes } = builtAdam(f);
    const o = new Adam();
    o.dispose();
    return [{ run: () => o.loadState(bytes) }];
  },
  'state.fromCheckpoint-type': () => [{ run: () => Optimizer.fromCheckpoint(5, []) }],
  'state.fromCheckpoint-corrupt': (f) => {
    const { bytes, w } = builtAdam(f);
    bytes[bytes.length - 9] ^= 1;
    return [{ run: () => Optimizer.fromCheckpoint(bytes, [w]), watch: [w] }];
  },
  // Schedule-free: w = [1, 2] trained one step, then at x.
  'schedule-free.step-at-x': (f) => {
    const { w, o } = atX(f, lib.ScheduleFreeAdamW);
    return [{ run: () => o.applyGradients([[new Float32Array([1, 1]), w]]), watch: [w, o] }];
  },
  'schedule-free.checkpoint-at-x': (f) => {
    const { w, o } = atX(f, lib.ScheduleFreeSGD);
    return [{ label: 'getState', run: () => o.getState(), watch: [w, o] }, { label: 'saveState', run: () => o.saveState(), watch: [w, o] }];
  },
  'schedule-free.restore-at-x': (f) => {
    const { w, o, state, bytes } = atX(f, lib.ScheduleFreeAdamW);
    return [{ label: 'setState', run: () => o.setState(state), watch: [w, o] }, { label: 'loadState', run: () => o.loadState(bytes), watch: [w, o] }];
  },
  'schedule-free.variables': (f) => {
    const { w, o } = atX(f, lib.ScheduleFreeSGD, false);
    return [
      { label: 'evalParams', run: () => o.evalParams('w'), watch: [w, o] },
      { label: 'trainParams', run: () => o.trainParams('w'), watch: [w, o], message: row('schedule-free.variables').message.replace('evalParams', 'trainParams') },
    ];
  },
  'schedule-free.variable': (f) => {
    const { w, o } = atX(f, lib.ScheduleFreeAdamW);
    return [
      { label: 'trainParams', run: () => o.trainParams([{}]), watch: [w, o] },
      { label: 'evalParams', run: () => o.evalParams([{}]), watch: [w, o], message: row('schedule-free.variable').message.replace('trainParams', 'evalParams') },
    ];
  },
  'schedule-free.disposed-variable': (f) => {
    const { w, o } = atX(f, lib.ScheduleFreeSGD, false);
    return [{ run: () => o.evalParams([f.gone()]), watch: [w, o] }];
  },
  'state.fromCheckpoint-class': () => [{ run: () => Optimizer.fromCheckpoint(frame(headerOf([], 'Unregistered')), []) }],
  'state.fromCheckpoint-variables': (f) => {
    const { bytes } = builtAdam(f);
    return [{ run: () => Optimizer.fromCheckpoint(bytes, 'w') }];
  },
  'state.fromCheckpoint-other': (f) => {
    const { bytes } = builtAdam(f);
    const other = f.v([1, 2], 'other');
    return [{ run: () => Optimizer.fromCheckpoint(bytes, [other]), watch: [other] }];
  },

  // Subclassing contract
  'contract.slot-twice': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Custom((self, v) => {
      self.addVariableFromReference(v, 'm');
      self.addVariableFromReference(v, 'm');
    }));
    return [{ run: () => o.prepare([w]), watch: [o, w] }];
  },
  'contract.slot-shape': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Custom((self, v) => self.addVariableFromReference(v, 'r', 0, [0])));
    return [{ run: () => o.prepare([w]), watch: [o, w] }];
  },
  'contract.addVariable-unbuilt': (f) => {
    const o = f.opt(new Custom(() => {}));
    return [{ run: () => o.callAddVariable(), watch: [o] }];
  },
  'contract.addVariable-shape': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Custom((self) => self.addVariable('x', 3)));
    return [{ run: () => o.prepare([w]), watch: [o, w] }];
  },
  'contract.not-built': (f) => {
    const { o } = builtAdam(f);
    const fresh = f.v([1, 2, 3, 4], 'fresh', [2, 2]);
    const g = { indices: new Int32Array(0), values: new Float32Array(0) };
    return [{ run: () => o.updateStepSparse(g, fresh, 0.1), watch: [o, fresh] }];
  },

  // Registry
  'kernel.options': () => [{ run: () => lib.kernel(null) }],
  'kernel.option-unknown': () => [{ run: kdef({ reduction: 'sum' }) }],
  'kernel.name': () => [{ run: kdef({ name: '' }) }],
  'kernel.arrays': () => [{ run: kdef({ arrays: { w: 'out', g: 'in' } }) }],
  'kernel.scalars': () => [{ run: kdef({ scalars: 'lr' }) }],
  'kernel.duplicate': () => [{ run: kdef({ scalars: ['g'] }) }],
  'kernel.body': () => [{ run: kdef({ body: 3 }) }],
  'kernel.reduce': () => [{ run: kdef({ arrays: { g: 'in' }, reduce: 'mean', body: ({ g }) => g }) }],
  'kernel.reduce-writes': () => [{ run: kdef({ reduce: 'sum', body: ({ g }) => g }) }],
  'kernel.aliases': () => [{ run: kdef({ aliases: [['w', 'g']] }) }],
  'kernel.compile': () => [{ run: kdef({ compile: 'no' }) }],
  'kernel.unknown-array': () => [{ run: kdef({ body: ({ w, x }) => ({ w: w.add(x) }) }) }],
  'kernel.scalar-as-array': () => [{ run: kdef({ body: ({ w, lr }) => ({ w: w.mul(lr) }) }) }],
  'kernel.arity': () => [{ run: kdef({ body: ({ w }) => ({ w: w.add() }) }) }],
  'kernel.operand': () => [{ run: kdef({ body: ({ w }) => ({ w: w.add('1') }) }) }],
  'kernel.comparison': () => [{ run: kdef({ body: ({ w, g }) => ({ w: w.add(g.lt(0)) }) }) }],
  'kernel.where': () => [{ run: kdef({ body: ({ w, g }, s, { where }) => ({ w: where(g, w, 0) }) }) }],
  'kernel.constant': () => [{ run: kdef({ body: ({ w }) => ({ w: w.mul(1e39) }) }) }],
  'kernel.stale': () => {
    let kept;
    lib.kernel({ ...K_BASE, body: ({ w }) => ((kept = w), { w }) });
    return [{ run: () => kept.add(1) }];
  },
  'kernel.output-in': () => [{ run: kdef({ body: ({ w, g }) => ({ w, g: g.add(1) }) }) }],
  'kernel.output-scalar': () => [{ run: kdef({ body: ({ w }, { lr }) => ({ w, lr }) }) }],
  'kernel.output-type': () => [{ run: kdef({ body: () => ({ w: 0 }) }) }],
  'kernel.output-missing': () => [{ run: kdef({ arrays: { w: 'inout', g: 'inout' } }) }],
  'kernel.run-arrays': () => krun(() => [null, { lr: 1 }]),
  'kernel.run-array': () => krun((w) => [{ w, g: [1, 2] }, { lr: 1 }]),
  'kernel.run-memory': () => krun((w) => [{ w, g: new Float32Array(5) }, { lr: 1 }]),
  'kernel.run-length': () => krun((w, g) => [{ w, g: g.value.subarray(1) }, { lr: 1 }]),
  'kernel.run-overlap': () => krun((w) => [{ w, g: w.value }, { lr: 1 }]),
  'kernel.run-scalars': () => krun((w, g) => [{ w, g }]),
  'kernel.run-scalar': () => krun((w, g) => [{ w, g }, { lr: NaN }]),
  'kernel.run-scalar-float32': () => krun((w, g) => [{ w, g }, { lr: 1e39 }]),
  'kernel.pipeline': () => [
    { run: kdef({ pipeline: 'w' }) },
    { label: 'another key', message: "kernel 'k': pipeline: unknown key 'ema' (expected weight, gradient)", run: kdef({ pipeline: { weight: 'w', gradient: 'g', ema: true } }) },
  ],
  'kernel.pipeline-weight': () => [{ run: kdef({ pipeline: { weight: 'g', gradient: 'g' } }) }],
  'kernel.pipeline-gradient': () => [{ run: kdef({ pipeline: { weight: 'w', gradient: 'w' } }) }],
  'kernel.pipeline-reduce': () => [{ run: kdef({ arrays: { g: 'in' }, reduce: 'sum', body: ({ g }) => g, pipeline: { weight: 'g', gradient: 'g' } }) }],
  'kernel.pipeline-alias': () => [{ run: kdef({ arrays: { w: 'inout', g: 'in', x: 'in' }, aliases: [['x', 'w']], pipeline: { weight: 'w', gradient: 'g' } }) }],
  'kernel.run-pipeline': () => kpipe((k, w, g) => k.run({ w, g }, { lr: 1 }, 16)),
  'kernel.run-pipeline-type': () => kpipe((k, w, g) => k.run({ w, g }, { lr: 1 }, '64')),
  'kernel.run-pipeline-undeclared': () => krun((w, g) => [{ w, g }, { lr: 1 }, defaultHeap().pipeline]),
  'kernel.run-pipeline-ema': () =>
    kpipe((k, w, g) => {
      // A record left by another step, its average far from this weight: the EMA flag and a distance past the end of memory.
      const heap = defaultHeap();
      const rec = new Int32Array(heap.memory.buffer, heap.pipeline, 9);
      rec[0] = 32;
      rec[8] = heap.memory.buffer.byteLength - w.ptr;
      return k.run({ w, g }, { lr: 1 }, heap.pipeline);
    }),
  'kernel.fromModule': () => {
    const other = lib.kernel({ ...K_BASE, body: ({ w, g }, { lr }) => ({ w: w.add(g.mul(lr)) }) });
    const k = lib.kernel(K_BASE);
    return [{ run: () => k.fromModule(new WebAssembly.Module(other.toBytes())), watch: [() => k.mode] }];
  },
  'registry.className': () => [{ run: () => registerClass(class {}) }],
  'registry.fromConfig': () => [{ run: () => registerClass(class NoFromConfig { static className = 'NoFromConfig'; }), watch: [() => String(getRegisteredClass('NoFromConfig'))] }],
  'registry.inherited': () => [{ run: () => registerClass(class MyAdam extends Adam {}), watch: [() => String(getRegisteredClass('Adam').name)] }],
  'registry.taken': () => [{ run: () => registerClass(class MyAdam extends Adam { static className = 'Adam'; }), watch: [() => String(getRegisteredClass('Adam').name)] }],
  'registry.deserialize-shape': () => [{ run: () => deserialize({}) }],
  'registry.deserialize-unknown': () => [{ run: () => deserialize({ className: 'Nope', config: {} }) }],

  // LossScaleOptimizer and SWA
  'lso.inner': () => [{ run: () => new LossScaleOptimizer({}) }],
  'lso.options': () => {
    const inner = new Adam();
    return [{ run: () => new LossScaleOptimizer(inner, 5), watch: [inner] }, { label: 'null', message: 'LossScaleOptimizer: options must be an object, got null', run: () => new LossScaleOptimizer(inner, null), watch: [inner] }];
  },
  'lso.unknown-option': () => {
    const inner = new Adam();
    return [{ run: () => new LossScaleOptimizer(inner, { clipnorm: 1 }), watch: [inner] }];
  },
  'lso.name': () => [{ run: () => new LossScaleOptimizer(new Adam(), { name: '' }) }],
  'lso.updateStep': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new LossScaleOptimizer(new Adam()));
    return [{ run: () => o.updateStep(new Float32Array(2), w, 0.1), watch: [o, w] }];
  },
  'lso.fromConfig': () => [{ run: () => LossScaleOptimizer.fromConfig({}) }],
  ...Object.fromEntries(
    [
      ['lso.setState-class', () => new Adam().getState()],
      ['lso.setState-scale', () => ({ className: 'LossScaleOptimizer', iterations: 0, variables: {} })],
      ['lso.setState-counter', () => ({
        className: 'LossScaleOptimizer',
        iterations: 0,
        variables: { 'loss_scale/dynamic_scale': { shape: [1], values: [1024] }, 'loss_scale/step_counter': { shape: [1], values: [0.5] } },
      })],
    ].map(([id, bad]) => [id, (f) => {
      const w = f.v([1, 2], 'w');
      const o = f.opt(new LossScaleOptimizer(new Adam(), { initialScale: 64 }));
      o.applyGradients([[new Float32Array([64, 64]), w]]);
      return [{ run: () => o.setState(bad()), watch: [o, w] }];
    }]),
  ),
  'lso.disposed': (f) => {
    const w = f.v([1, 2], 'w');
    const o = new LossScaleOptimizer(new Adam());
    o.dispose();
    return [{ run: () => o.applyGradients([[new Float32Array(2), w]]), watch: [w] }];
  },
  // MultiOptimizer and OptimizerMap
  'ctor.MultiOptimizer.optimizerMap': () => [{ run: () => new MultiOptimizer(5) }],
  'ctor.MultiOptimizer.optimizerMap-nested': () => {
    const inner = new Adam();
    return [{ run: () => new MultiOptimizer(new LossScaleOptimizer(inner)), watch: [inner] }];
  },
  'ctor.MultiOptimizer.optimizerMap-owned': (f) => {
    const adam = new Adam();
    f.opt(new MultiOptimizer(adam));
    return [{ run: () => new MultiOptimizer(adam), watch: [adam] }];
  },
  'ctor.MultiOptimizer.optimizerMap-twice': () => {
    const sgd = new SGD();
    return [{ run: () => new MultiOptimizer(new OptimizerMap(sgd, { 'x.*': new Lookahead(sgd) })), watch: [sgd] }];
  },
  'ctor.MultiOptimizer.globalClipnorm-accumulation': () => {
    const adam = new Adam({ gradientAccumulationSteps: 2 });
    return [{ run: () => new MultiOptimizer(adam, { globalClipnorm: 1 }), watch: [adam] }];
  },
  'ctor.OptimizerMap.defaultOptimizer': () => [{ run: () => new OptimizerMap({}) }],
  'ctor.OptimizerMap.optimizerMap': () => [{ run: () => new OptimizerMap(new Adam(), []) }],
  ...Object.fromEntries(
    [
      ['map.key', (m) => m.set(5, new SGD())],
      ['map.key-duplicate', (m) => m.set('a', new SGD())],
      ['map.key-regex', (m) => m.set('a)(b', new SGD())],
      ['map.optimizer', (m) => m.set('x', {})],
      ['map.optimizer-nested', (m) => m.set('x', new MultiOptimizer(new Adam()))],
      ['map.optimizer-disposed', (m) => {
        const o = new Adam();
        o.dispose();
        m.set('x', o);
      }],
    ].map(([id, bad]) => [id, () => {
      const m = new OptimizerMap(new Adam(), { a: new SGD() });
      return [{ run: () => bad(m), watch: [() => m.keys()] }];
    }]),
  ),
  'map.ambiguous': (f) => {
    const m = new OptimizerMap(new Adam(), { 'enc.*': new SGD(), '.*kernel': new SGD() });
    const multi = f.opt(new MultiOptimizer(m));
    const w = f.v([1, 2], 'w');
    const k = f.v([1, 2], 'encoder/kernel');
    multi.applyGradients([[new Float32Array([1, 1]), w]]);
    return [{ run: () => m.get('encoder/kernel') }, { label: 'step', run: () => multi.applyGradients([[new Float32Array([1, 1]), w], [new Float32Array([1, 1]), k]]), watch: [multi, w, k] }];
  },
  'map.fromConfig': () => [{ run: () => OptimizerMap.fromConfig({}) }],
  ...Object.fromEntries(
    [
      ['multi.router', () => 42],
      ['multi.router-nested', () => new LossScaleOptimizer(new Adam())],
    ].map(([id, router]) => [id, (f) => {
      const multi = f.opt(new MultiOptimizer(router));
      const w = f.v([1, 2], 'w');
      return [{ run: () => multi.applyGradients([[new Float32Array([1, 1]), w]]), watch: [multi, w] }];
    }]),
  ),
  'multi.reentry': (f) => {
    const w = f.v([1, 2], 'w');
    const adam = new Adam();
    const multi = f.opt(new MultiOptimizer(() => {
      multi.applyGradients([[new Float32Array([1, 1]), w]]);
      return adam;
    }));
    return [{ run: () => multi.applyGradients([[new Float32Array([1, 1]), w]]), watch: [multi, w, adam] }];
  },
  'multi.learningRate': (f) => {
    const multi = f.opt(new MultiOptimizer(new Adam()));
    return [
      { run: () => multi.learningRate, watch: [multi] },
      { label: 'set', message: 'MultiOptimizer: learningRate cannot be set on a MultiOptimizer', run: () => { multi.learningRate = 0.1; }, watch: [multi] },
    ];
  },
  'multi.getConfig-router': (f) => {
    const multi = f.opt(new MultiOptimizer(() => new Adam()));
    return [{ run: () => multi.getConfig(), watch: [multi] }, { label: 'saveState', run: () => multi.saveState(), watch: [multi] }];
  },
  'multi.fromConfig': () => [{ run: () => MultiOptimizer.fromConfig({}) }],
  'multi.getSlot': (f) => {
    const multi = f.opt(new MultiOptimizer(new Adam()));
    const w = f.v([1, 2], 'w');
    return [{ run: () => multi.getSlot(w, 'm'), watch: [multi, w] }];
  },
  'multi.updateStep': (f) => {
    const multi = f.opt(new MultiOptimizer(new Adam()));
    const w = f.v([1, 2], 'w');
    return [{ run: () => multi.updateStep(new Float32Array(2), w, 0.1), watch: [multi, w] }];
  },
  ...Object.fromEntries(
    [
      ['multi.setState-route', () => true, (s) => ({ ...s, variables: { 'w/m': s.variables['w/m'] } })],
      ['multi.setState-extra', () => false, (s) => ({ ...s, variables: { ...s.variables, 'optimizer_5:iterations': { shape: [2], values: [0, 1] } } })],
      ['multi.setState-iterations', () => false, (s) => ({ ...s, variables: { ...s.variables, 'optimizer_0:iterations': { shape: [2], values: [0.5, 1] } } })],
      ['multi.setState-plateau', () => false, (s) => ({ ...s, plateau: { scale: 1, best: 0, wait: 0, cooldown: 0 } })],
    ].map(([id, routed, bad]) => [id, (f) => {
      const w = f.v([1, 2], 'w');
      const adam = new Adam();
      const source = new MultiOptimizer(() => adam);
      source.applyGradients([[new Float32Array([1, 1]), w]]);
      const state = source.getState();
      source.dispose();
      const multi = f.opt(routed() ? new MultiOptimizer(() => new Adam()) : new MultiOptimizer(new Adam()));
      if (!routed()) multi.applyGradients([[new Float32Array([1, 1]), w]]);
      return [{ run: () => multi.setState(bad(state)), watch: [multi, w] }];
    }]),
  ),
  'multi.getState-plateau': (f) => {
    const adam = new Adam();
    const multi = f.opt(new MultiOptimizer(adam));
    new lib.ReduceLROnPlateau(adam);
    return [{ run: () => multi.getState(), watch: [adam] }, { label: 'saveState', run: () => multi.saveState(), watch: [adam] }];
  },
  'swa.finalize-disposed': () => {
    const o = new SWA(new Adam());
    o.dispose();
    return [{ run: () => o.finalizeVariableValues() }];
  },

  'variable.heap': () => [{ run: () => new Variable([1], {}, 5) }],
  'variable.wrap-heap': () => [{ run: () => Variable.wrap(5, 16, [1]) }],
  'variable.values-type': () => [{ run: () => new Variable(['a']) }],
  'variable.values-bigint': (f) => {
    const w = f.v([1, 2, 3], 'w');
    return [{ run: () => new Variable(new BigInt64Array(2)) }, { label: 'assign', message: "Variable 'w'.assign: values must hold numbers, got a BigUint64Array", run: () => w.assign(new BigUint64Array(3)), watch: [w] }];
  },
  'variable.values-float32': (f) => {
    const w = f.v([1, 2, 3], 'w');
    return [
      { run: () => new Variable([1, 1e39]) },
      { label: 'Float64Array', run: () => new Variable(new Float64Array([1, 1e39])) },
      { label: 'assign', message: "Variable 'w'.assign: values[2] is -1e+39, which float32 cannot hold (-Infinity in float32)", run: () => w.assign(new Float64Array([1, 2, -1e39])), watch: [w] },
    ];
  },
  'variable.assign-values-type': (f) => {
    const w = f.v([1, 2, 3], 'w');
    return [{ run: () => w.assign(['a', 2, 3]), watch: [w] }];
  },
  'arena.base': () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    return [{ run: () => new Arena(memory, instantiateKernels(kernelModule(), memory), 8) }];
  },
  'arena.base-memory': () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    return [{ run: () => new Arena(memory, instantiateKernels(kernelModule(), memory), 65536) }];
  },
  'arena.alloc-nan': (f) => [{ run: () => f.other.alloc(NaN), watch: [f.other] }],
  'arena.alloc-negative': (f) => [{ run: () => f.other.alloc(-5), watch: [f.other] }],
  'arena.setSimd': () => [{ run: () => lib.setSimdEnabled('x') }, { run: () => kernels.setSimd('x') }],
  'lso.scaleLoss': () => {
    const o = new LossScaleOptimizer(new Adam());
    return [{ run: () => o.scaleLoss('x'), watch: [o] }];
  },
  'opt.exclude-iterable': (f) => {
    const o = f.opt(new Adam({ weightDecay: 0.1 }));
    return [{ run: () => o.excludeFromWeightDecay({ variables: 5 }), watch: [o, () => [o.core.excludedVars.size, String(o.core.excludedNames)]] }];
  },
  'opt.exclude-regex': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Adam({ weightDecay: 0.1 }));
    return [{ run: () => o.excludeFromWeightDecay({ variables: [w], names: ['('] }), watch: [o, () => [o.core.excludedVars.size, String(o.core.excludedNames)]] }];
  },
  'opt.finalize-iterable': (f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new Adam({ useEma: true }));
    o.applyGradients([[new Float32Array([1, 1]), w]]);
    return [{ run: () => o.finalizeVariableValues(5), watch: [o, w] }];
  },
};

// ---------------------------------------------------------------- families

/** applyGradients rows, for every optimizer class: the bad pairs, given the fixture. */
const APPLY = {
  'apply.pairs': () => 'nope',
  'apply.pair': ({ g, w }) => [[g, w, 3]],
  'apply.variable': ({ g, w }) => [[g, w], [new Float32Array(2), {}]],
  'apply.disposed': ({ g, w, f }) => [[g, w], [new Float32Array(2), f.gone()]],
  'apply.heap': ({ g, w, elsewhere }) => [[g, w], [new Float32Array(2), elsewhere]],
  'apply.twice': ({ g, w }) => [[g, w], [g, w]],
  'apply.length': ({ g, w, fresh }) => [[g, w], [new Float32Array(3), fresh]],
  'apply.gradient-type': ({ w }) => [[new Float64Array(8), w]],
  'apply.none': ({ w, u }) => [[null, w], [undefined, u]],
  'apply.sparse-indices': ({ w }) => [[{ indices: new Float32Array([1]), values: new Float32Array(2) }, w]],
  'apply.sparse-values': ({ w }) => [[{ indices: [1], values: [0, 0] }, w]],
  'apply.sparse-length': ({ w }) => [[{ indices: [1], values: new Float32Array(3) }, w]],
  'apply.sparse-range': ({ w }) => [[{ indices: [4], values: new Float32Array(2) }, w]],
  'apply.sparse-integer': ({ w }) => [[{ indices: [0, 1.5], values: new Float32Array(4) }, w]],
  'apply.schedule': ({ g, w }) => [[g, w]],
  'apply.disposed-optimizer': ({ g, w }) => [[g, w]],
};

function applyCases(row, f) {
  const out = [];
  for (const C of OPTIMIZERS) {
    if (row.id === 'apply.disposed-optimizer' && C === LossScaleOptimizer) continue; // its own row: lso.disposed
    const lr = row.id === 'apply.schedule' ? (step) => (step > 0 ? NaN : 0.1) : 0.1;
    const opt = f.opt(isWrapperClass(C) ? new C(new Adam({ learningRate: lr })) : new C({ learningRate: lr }));
    const w = f.v([1, 2, 3, 4, 5, 6, 7, 8], 'w', [4, 2]);
    const u = f.v([1, 2, 3], 'u');
    const fresh = f.v([1, 2], 'fresh');
    const elsewhere = f.zeros([2], 'elsewhere', f.other);
    const g = new Float32Array(8).fill(0.5);
    opt.applyGradients([[g, w], [new Float32Array(3).fill(0.5), u]]);
    // A MultiOptimizer checks the pairs itself; its inner optimizer evaluates its own schedule.
    const validator = row.id === 'apply.schedule' && opt instanceof MultiOptimizer ? 'Adam' : validatorOf(opt);
    const message = row.message.replaceAll('<Validator>', validator).replaceAll('<Class>', C.className);
    if (row.id === 'apply.disposed-optimizer') opt.dispose();
    const pairs = APPLY[row.id]({ g, w, u, fresh, elsewhere, f });
    out.push({ label: C.className, message, run: () => opt.applyGradients(pairs), watch: [opt, w, u, fresh] });
  }
  return out;
}

const WRAPPER = {
  'wrapper.options': (C) => {
    const inner = new Adam();
    return { run: () => new C(inner, 5), watch: [inner] };
  },
  'wrapper.inner': (C) => ({ run: () => new C({}, {}) }),
  'wrapper.inner-disposed': (C) => {
    const inner = new Adam();
    inner.dispose();
    return { run: () => new C(inner) };
  },
  'wrapper.base-option': (C) => {
    const inner = new Adam();
    return { run: () => new C(inner, { clipnorm: 1 }), watch: [inner] };
  },
  'wrapper.name': (C) => ({ run: () => new C(new Adam(), { name: 5 }) }),
  'wrapper.updateStep': (C, f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new C(new Adam()));
    return { run: () => o.updateStep(new Float32Array(2), w, 0.1), watch: [o, w] };
  },
  'wrapper.fromConfig': (C) => ({ run: () => C.fromConfig({}) }),
  'wrapper.setState': (C, f) => {
    const w = f.v([1, 2], 'w');
    const o = f.opt(new C(new Adam()));
    o.applyGradients([[new Float32Array([1, 1]), w]]);
    return { run: () => o.setState(null), watch: [o, w] };
  },
};

function kernelCases(row, f) {
  const out = [];
  for (const [name, { arrays, scalars }] of Object.entries(SIGNATURES).flatMap(([n, s]) => [s].flat().map((form) => [n, form]))) {
    const views = arrays.map((a, i) => f.v([1, 2, 3, 4, 5].map((x) => x + i), a));
    const args = (swap) => {
      const list = [...views.map((v) => v.value), ...scalars.map(() => 0.5)];
      for (const [i, x] of swap) list[i] = x;
      return list;
    };
    const call = (swap) => () => kernels[name](...args(swap));
    const watch = views;
    const sub = (arg) => row.message.replaceAll('<array>', arg).replaceAll('<scalar>', arg);
    if (row.id === 'kernels.type') arrays.forEach((a, i) => out.push({ label: `${name} ${a}`, message: sub(a), run: call([[i, [1, 2, 3, 4, 5]]]), watch }));
    if (row.id === 'kernels.view') arrays.forEach((a, i) => out.push({ label: `${name} ${a}`, message: sub(a), run: call([[i, new Float32Array(5)]]), watch }));
    if (row.id === 'kernels.length') {
      arrays.forEach((a, i) => i > 0 && out.push({ label: `${name} ${a}`, message: sub(a), run: () => kernels[name](...args([[i, views[i].value.subarray(1)]])), watch }));
    }
    if (row.id === 'kernels.scalar') scalars.forEach((s, k) => out.push({ label: `${name} ${s}`, message: sub(s), run: call([[arrays.length + k, NaN]]), watch }));
    if (row.id === 'kernels.scalar-float32') scalars.forEach((s, k) => out.push({ label: `${name} ${s}`, message: sub(s), run: call([[arrays.length + k, 1e39]]), watch }));
    if (row.id === 'kernels.overlap' && arrays.length > 1 && name !== 'copy') {
      const wide = f.v([1, 2, 3, 4, 5, 6], 'wide'); // [0, 5) and [1, 6) overlap partially
      arrays.forEach((a, i) => i > 0 && out.push({ label: `${name} ${a}`, message: sub(a).replaceAll('<written>', arrays[0]), run: () => kernels[name](...args([[0, wide.value.subarray(0, 5)], [i, wide.value.subarray(1, 6)]])), watch: [...views, wide] }));
    }
    if (row.id === 'kernels.array-or-number') {
      const either = arrays.filter((a) => [SIGNATURES[name]].flat().some((form) => form.scalars.includes(a)));
      either.forEach((a) => out.push({ label: `${name} ${a}`, message: sub(a), run: call([[arrays.indexOf(a), '0.5']]), watch }));
    }
  }
  return out;
}

// ---------------------------------------------------------------- in a fresh process: before ready()

const CHILD = {
  'ready.source': 'await m.ready({})',
  'ready.http': "await m.ready(new Response('', { status: 404 }))",
  'ready.bytes': 'await m.ready(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 255]))',
  'ready.file': "await m.ready(new URL('file:///nonexistent-wasm-optim/optim.wasm'))",
  'ready.forbidden': `
    const compile = WebAssembly.compile;
    WebAssembly.compile = async () => { throw new WebAssembly.CompileError('WebAssembly.compile(): Wasm code generation disallowed by embedder'); };
    try { await m.ready(new Uint8Array(8)); } finally { WebAssembly.compile = compile; }`,
  'ready.threads': 'await m.ready({ threads: 0 })',
  'ready.minElements': 'await m.ready({ threads: 2, minElements: 2 })',
  'ready.timeoutMs': 'await m.ready({ threads: 2, timeoutMs: 0 })',
  'ready.option': 'await m.ready({ threads: 2, min_elements: 9 })',
  'readySync.source': 'm.readySync(5)',
  'readySync.bytes': 'm.readySync(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 255]))',
  'notready.variable': 'new m.Variable([1])',
  'notready.zeros': 'm.Variable.zeros([1])',
  'notready.defaultHeap': 'm.defaultHeap()',
  'notready.kernelModule': 'm.kernelModule()',
  'notready.setSimdEnabled': 'm.setSimdEnabled(true)',
  // every kernels function must refuse; the first error is reported, or NoError naming one that did not
  'notready.kernels': `
    let first = null;
    for (const name of Object.keys(m.kernels)) {
      if (name === 'setSimd') continue;
      try { m.kernels[name](new Float32Array(1), new Float32Array(1), 1); } catch (e) { first ??= e; continue; }
      throw Object.assign(new Error('kernels.' + name + ' did not throw'), { name: 'NoError' });
    }
    throw first;`,
};

let childResults = null;
function childResult(id) {
  if (!childResults) {
    const script = `
      const m = await import(${JSON.stringify(pathToFileURL(repoFile('build', 'index.js')).href)});
      const cases = ${JSON.stringify(CHILD)};
      const AsyncFunction = (async () => {}).constructor;
      const out = {};
      for (const [id, code] of Object.entries(cases)) {
        try { await new AsyncFunction('m', code)(m); out[id] = { name: 'none', message: 'no error', ready: m.isReady() }; }
        catch (e) { out[id] = { name: e.name, message: e.message, ready: m.isReady() }; }
      }
      console.log(JSON.stringify(out));`;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    childResults = JSON.parse(res.stdout.trim().split('\n').pop() || '{}');
  }
  return childResults[id];
}

// ---------------------------------------------------------------- dispatch

const baseOf = (id) => id.split('.').slice(0, 2).join('.');

/** The checks for a row, or null when the row has no case. */
function casesFor(row, f) {
  const { id } = row;
  if (CASES[id]) return CASES[id](f, row);
  if (APPLY[id]) return applyCases(row, f);
  if (WRAPPER[id]) return WRAPPERS.map((C) => ({ label: C.className, message: row.message.replaceAll('<Class>', C.className), ...WRAPPER[id](C, f) }));
  if (id.startsWith('kernels.') && ['kernels.type', 'kernels.view', 'kernels.length', 'kernels.scalar', 'kernels.scalar-float32', 'kernels.overlap', 'kernels.array-or-number'].includes(id)) return kernelCases(row, f);
  if (id === 'schedule.options' || id === 'schedule.unknown-option') return SCHEDULES.map((C) => ({ label: C.className, message: row.message.replaceAll('<Class>', C.className), run: () => new C(evalLiteral(row.literal)) }));
  if (id.startsWith('base.')) {
    return CORE.map((C) => ({ label: C.className, message: row.message.replaceAll('<Class>', C.className), run: () => new C(evalLiteral(row.literal)) }));
  }
  if (id.startsWith('ctor.')) {
    const C = lib[id.split('.')[1]];
    if (typeof C !== 'function') return [{ run: () => assert.unreachable(`${id}: the package exports no class ${id.split('.')[1]}`), type: 'Assertion' }];
    const options = evalLiteral(row.literal);
    if (C.prototype instanceof Optimizer && isWrapperClass(C)) {
      const inner = new Adam();
      return [{ run: () => new C(inner, options), watch: [inner] }];
    }
    return [{ run: () => new C(options) }];
  }
  return null;
}

// ---------------------------------------------------------------- tests

test('docs/errors.md: ids are unique and every row has an error type and a message', () => {
  const seen = new Set();
  for (const row of ROWS) {
    assert.ok(!seen.has(row.id), `duplicate id ${row.id}`);
    seen.add(row.id);
    assert.ok(/^([A-Z]\w*)?Error$/.test(row.type), `${row.id}: error type '${row.type}'`);
    assert.ok(row.message, `${row.id}: the message column needs the message in backticks`);
    if (/^(base|ctor)\./.test(row.id) || row.id === 'schedule.options') assert.ok(row.literal, `${row.id}: the bad-input column needs the options in backticks`);
  }
  assert.ok(ROWS.length > 150, `only ${ROWS.length} rows parsed`);
});

test('every row has a case, every case has a row', () => {
  const ids = new Set(ROWS.map((r) => r.id));
  const f = fixtures();
  try {
    const missing = ROWS.filter((r) => !(r.id in CHILD) && casesFor(r, f) === null).map((r) => r.id);
    assert.equal(missing, [], `rows without a case: ${missing.join(', ')}`);
  } finally {
    f.dispose();
  }
  const orphans = [...Object.keys(CASES), ...Object.keys(APPLY), ...Object.keys(WRAPPER), ...Object.keys(CHILD)].filter((id) => !ids.has(id));
  assert.equal(orphans, [], `cases without a row in docs/errors.md: ${orphans.join(', ')}`);
});

test('every option of every exported optimizer and schedule, and every base option, has its rows', () => {
  class Probe extends Optimizer {
    static className = 'Probe';
    updateStep() {}
  }
  const baseKeys = Object.keys(new Probe().getConfig());
  const ids = ROWS.map((r) => r.id);
  const has = (prefix) => ids.some((id) => id === prefix || id.startsWith(`${prefix}.`) || id.startsWith(`${prefix}-`));
  const missing = [];
  for (const key of baseKeys) if (key !== 'name' && !has(`base.${key}`)) missing.push(`base.${key}`);
  for (const C of OPTIMIZERS) {
    const o = isWrapperClass(C) ? new C(new Adam()) : new C();
    for (const key of Object.keys(o.getConfig())) {
      if (baseKeys.includes(key) || ['optimizer', 'inner'].includes(key)) continue;
      if (!has(`ctor.${C.className}.${key}`)) missing.push(`ctor.${C.className}.${key}`);
    }
    o.dispose();
  }
  for (const C of SCHEDULES) {
    const valid = VALID_SCHEDULE_OPTIONS[C.className];
    if (!valid) {
      missing.push(`VALID_SCHEDULE_OPTIONS.${C.className} in test/errors.test.mjs`);
      continue;
    }
    for (const key of Object.keys(new C(valid).getConfig())) if (!has(`ctor.${C.className}.${key}`)) missing.push(`ctor.${C.className}.${key}`);
  }
  for (const name of Object.keys(kernels)) if (name !== 'setSimd' && !SIGNATURES[name]) missing.push(`SIGNATURES.${name} in test/errors.test.mjs`);
  assert.equal(missing, [], `missing rows in docs/errors.md (or test tables): ${missing.join(', ')}`);
});

test('every documented error: its type, its message, and nothing changed', () => {
  const failures = [];
  let checks = 0;
  for (const row of ROWS) {
    if (row.id in CHILD) continue;
    const f = fixtures();
    try {
      for (const c of casesFor(row, f) ?? []) {
        checks++;
        try {
          const problem = check(row, c);
          if (problem) failures.push(problem);
        } finally {
          c.after?.();
        }
      }
    } catch (e) {
      failures.push(`${row.id}: the case itself threw: ${e.stack}`);
    } finally {
      f.dispose();
    }
  }
  console.log(`  ${ROWS.length} rows, ${checks} checks in this process`);
  if (failures.length) assert.unreachable(`${failures.length} of ${checks} checks failed:\n  - ${failures.join('\n  - ')}`);
});

test('loading errors, in a fresh process before ready(): type, message, and still not ready', () => {
  const failures = [];
  for (const row of ROWS.filter((r) => r.id in CHILD)) {
    const r = childResult(row.id);
    if (!r) failures.push(`${row.id}: no result from the child process`);
    else if (r.name !== row.type) failures.push(`${row.id}: expected a ${row.type}, got ${r.name}: ${r.message}`);
    else if (!r.message.includes(row.message)) failures.push(`${row.id}: the message is\n      ${r.message}\n    docs/errors.md says\n      ${row.message}`);
    else if (r.ready !== false) failures.push(`${row.id}: the library became ready after the error`);
  }
  if (failures.length) assert.unreachable(failures.join('\n  - '));
});

test.run();
