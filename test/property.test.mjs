// Property tests: random sequences of create / apply (dense, wasm-resident, sparse with duplicates,
// null, NaN/Infinity) / assign / dispose / save / restore / reload over many variables of random
// sizes, checked after EVERY operation against the float64 reference: each live variable and each
// of its slots within the conformance tolerance, iterations, the number of state variables, guard
// bytes intact around every allocation, variables an operation does not touch bit-identical
// (canary), disposed variables raising on use, and no wasm memory leaked once a run is torn down.
//
// One property per family: every optimizer class with a float64 reference in test/reference/
// (test/helpers/property-families.mjs), with its own options and the base-class options drawn at
// random; Lookahead and SWA around a random one of them (test/reference/wrappers.mjs); and
// LossScaleOptimizer around a random one of them or a random wrapper (its reference is
// RefLossScale), fed gradients multiplied by its current scale as a scaled loss would give.
//
// Each run gets its own arena over a one-page memory, with guard bytes around every allocation
// from the start (test/arena.test.mjs shows they catch a write past a block), so the default heap
// other suites use is left alone. Memory grows many times in the middle of sequences and of steps
// (the 'squeeze' operation fills it), which detaches every JS view the library might have kept.
//
// Reproducible: a fixed seed (override with PROPERTY_SEED=<n>; PROPERTY_RUNS=<n> runs per family,
// PROPERTY_FAMILY=<class name> runs one family), printed on failure with the shrunk sequence.
//
// Wrapper contracts checked here (bugs these sequences found, now fixed): a step the inner optimizer
// skips as non-finite builds no wrapper slot; a refused or skipped call changes no slot; a save +
// restore does not change the training that follows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ready, Arena, instantiateKernels, kernelModule, Variable, Optimizer, Lookahead, SWA, LossScaleOptimizer } from '../build/index.js';
import { RefOptimizer } from './reference/base.mjs';
import { RTOL, ATOL } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';
import { FAMILIES, globalCount, RefLookaheadModel, RefSWAModel, RefLossScale } from './helpers/property-families.mjs';

await ready();

const SEED = Number(process.env.PROPERTY_SEED ?? 0x5eed2024);
const RUNS = process.env.PROPERTY_RUNS === undefined ? null : Number(process.env.PROPERTY_RUNS);
const ONLY = process.env.PROPERTY_FAMILY ?? null;
const GUARD = 16;

// Checkpoints both ways: binary (saveState/loadState) and object (getState/setState).
const save = (opt, binary) => (binary ? opt.saveState() : opt.getState());
const load = (opt, state, variables) => (state instanceof Uint8Array ? opt.loadState(state, variables) : opt.setState(state, variables));

// ---------------------------------------------------------------- arbitraries

const baseOptions = fc.record(
  {
    clip: fc.constantFrom(null, { clipnorm: 0.5 }, { clipvalue: 0.05 }, { globalClipnorm: 1 }),
    weightDecay: fc.constantFrom(null, 0.05),
    ema: fc.constantFrom(null, { useEma: true, emaMomentum: 0.9, emaOverwriteFrequency: 3 }),
    accumulation: fc.constantFrom(null, 2, 3),
    lossScaleFactor: fc.constantFrom(null, 64),
    skipNonFinite: fc.boolean(),
  },
).map(({ clip, ema, accumulation, weightDecay, lossScaleFactor, skipNonFinite }) => ({
  ...clip, ...ema,
  ...(skipNonFinite ? { skipNonFinite } : {}),
  ...(weightDecay ? { weightDecay } : {}),
  ...(accumulation ? { gradientAccumulationSteps: accumulation } : {}),
  ...(lossScaleFactor ? { lossScaleFactor } : {}),
}));

/** An optimizer of one family with random own and base options. */
const innerConfig = (family) => fc.tuple(family.own, baseOptions).map(([own, base]) => ({ family, options: { ...own, ...base } }));
const anyInner = fc.oneof(...FAMILIES.map(innerConfig));

const lookaheadConfig = fc.tuple(anyInner, fc.record({ syncPeriod: fc.integer({ min: 1, max: 4 }), slowStepSize: fc.constantFrom(0.5, 0.3, 0.8) }))
  .map(([inner, options]) => ({ inner, wrapper: { Cls: Lookahead, Ref: RefLookaheadModel, options, refOptions: options } }));

const swaConfig = fc.tuple(anyInner, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.boolean())
  .map(([inner, startStep, averagePeriod, alias]) => ({
    inner,
    wrapper: {
      Cls: SWA,
      Ref: RefSWAModel,
      options: { [alias ? 'startAveraging' : 'startStep']: startStep, averagePeriod }, // TFA's name for startStep too
      refOptions: { startStep, averagePeriod },
    },
  }));

const lossScaleConfig = fc.tuple(
  fc.oneof({ weight: 4, arbitrary: anyInner.map((inner) => ({ inner })) }, { weight: 1, arbitrary: lookaheadConfig }, { weight: 1, arbitrary: swaConfig }),
  // powers of two, as in Keras: unscaling is then exact in float32
  fc.record({ initialScale: fc.constantFrom(1, 16, 2 ** 15), dynamicGrowthSteps: fc.constantFrom(1, 2, 3, 2000) }),
).map(([config, lso]) => ({ ...config, lso }));

/** Adds the class, a factory and a readable form (a counterexample prints it, not the classes' source). */
function describe(config) {
  const { inner, wrapper, lso } = config;
  const makeInner = () => new inner.family.Cls(inner.options);
  const makeMiddle = wrapper ? () => new wrapper.Cls(makeInner(), wrapper.options) : makeInner;
  let label = `${inner.family.Cls.className} ${JSON.stringify(inner.options)}`;
  if (wrapper) label = `${wrapper.Cls.className} ${JSON.stringify(wrapper.options)} around ${label}`;
  if (lso) label = `LossScaleOptimizer ${JSON.stringify(lso)} around ${label}`;
  return {
    ...config,
    Cls: lso ? LossScaleOptimizer : wrapper ? wrapper.Cls : inner.family.Cls,
    make: lso ? () => new LossScaleOptimizer(makeMiddle(), lso) : makeMiddle,
    [fc.toStringMethod]: () => label,
  };
}

/** One fc.assert each. Runs per family: the file takes ~8 s (3,550 runs, ~66,000 operations). */
const SUITES = [
  ...FAMILIES.map((family) => ({ name: family.Cls.className, config: innerConfig(family).map((inner) => describe({ inner })), runs: 150 })),
  { name: 'Lookahead', config: lookaheadConfig.map(describe), runs: 400 },
  { name: 'SWA', config: swaConfig.map(describe), runs: 400 },
  { name: 'LossScaleOptimizer', config: lossScaleConfig.map(describe), runs: 500 },
]
  .map((suite, i) => ({ ...suite, seed: SEED + i })) // each family its own stream; PROPERTY_SEED moves them all
  .filter((suite) => ONLY === null || suite.name === ONLY);

const shape = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 1, max: 40 })).map(([n]) => [n]) },
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 17 })) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 40, max: 64 }), fc.integer({ min: 17, max: 40 })) },
  // rank 3: Adafactor factors the last two axes per leading batch; sparse rows are shape[0] slices
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 7 })) },
);

const operation = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('create'), shape, seed: fc.nat() }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('apply'), seed: fc.nat() }) },
  // a step with a NaN or Infinity in one gradient (only run under skipNonFinite or a LossScaleOptimizer)
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nonFinite'), seed: fc.nat(), bad: fc.constantFrom(NaN, Infinity, -Infinity) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('assign'), pick: fc.nat(), seed: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('dispose'), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('save'), binary: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reload'), fromCheckpoint: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('squeeze') }) },
);

// ---------------------------------------------------------------- the model

let nameCounter = 0;
const sizeOf = (s) => s.reduce((a, b) => a * b, 1);
const bits = (x) => new Uint32Array(Float32Array.from(x).buffer);
const valuesOf = (g) => (g === null ? [] : ArrayBuffer.isView(g) ? g : g.values);

/**
 * A sparse gradient summed into a dense one in float32, rows in input order, as the kernels sum
 * duplicate rows. The reference gets this sum: summed in float64 instead, duplicates that nearly
 * cancel would differ by more than any tolerance relative to their tiny sum.
 */
function sumRows32(g, shape) {
  const row = sizeOf(shape) / shape[0];
  const out = new Float32Array(sizeOf(shape));
  Array.from(g.indices).forEach((r, k) => {
    for (let j = 0; j < row; j++) out[r * row + j] += g.values[k * row + j];
  });
  return out;
}

/**
 * The conformance tolerance: |ours - ref| <= RTOL*|ref| + ATOL*scale, scale at least the largest
 * magnitude in the array. The model passes the largest magnitude of that kind of array (weights,
 * or one slot) over every variable and every check so far: a value that cancels down near zero
 * keeps the float32 error of the larger numbers it came from, and a small array may have no
 * other element to set the scale.
 */
function close(label, ours, ref, scale = 0) {
  for (const x of ref) scale = Math.max(scale, Math.abs(x));
  for (let i = 0; i < ref.length; i++) {
    const tol = RTOL * Math.abs(ref[i]) + ATOL * scale + 1e-30;
    if (!(Math.abs(ours[i] - ref[i]) <= tol)) {
      throw new Error(`${label}[${i}]: ours ${ours[i]} vs float64 reference ${ref[i]} (tolerance ${tol.toExponential(2)})`);
    }
  }
}

function sameBits(label, a, b) {
  const x = bits(a);
  const y = bits(b);
  for (let i = 0; i < y.length; i++) {
    if (x[i] !== y[i]) throw new Error(`canary: ${label}[${i}] changed (${a[i]} -> ${b[i]}) by an operation that must not touch it`);
  }
}

/** Expects fn to throw an error whose message matches re; returns it. */
function expectThrow(fn, re, what) {
  try {
    fn();
  } catch (e) {
    if (!re.test(e.message)) throw new Error(`${what}: expected an error matching ${re}, got: ${e.message}`);
    return e;
  }
  throw new Error(`${what}: expected an error matching ${re}, but it succeeded`);
}

const cloneMap = (map) => new Map([...map].map(([k, v]) => [k, structuredClone(v)]));

/** A fresh arena over one page of memory, guarding every allocation. */
function guardedArena() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const heap = new Arena(memory, instantiateKernels(kernelModule(), memory));
  heap.setGuards(GUARD);
  return heap;
}

class Model {
  constructor(config, heap) {
    this.heap = heap;
    this.config = config;
    this.family = config.inner.family;
    this.opt = config.make();
    /** The reference of the optimizer that does the updates (the innermost one). */
    // A LossScaleOptimizer sets its inner optimizer's lossScaleFactor to null, as Keras does.
    this.ref = new RefOptimizer(this.family.spec, config.lso ? { ...config.inner.options, lossScaleFactor: null } : config.inner.options);
    this.built = false;
    /** The wrapper's reference around it (RefLookaheadModel or RefSWAModel), or null. */
    this.wrap = config.wrapper ? new config.wrapper.Ref(this.ref, config.wrapper.refOptions) : null;
    /** The LossScaleOptimizer's reference, or null. */
    this.lso = config.lso ? new RefLossScale(config.lso) : null;
    /** { v: Variable, r: reference variable, alive } */
    this.vars = [];
    this.checkpoint = null;
    /** Raw blocks that fill the end of memory, so that the next allocation grows it. */
    this.ballast = [];
    /** Largest magnitude of the weights ('') and of each slot, over all variables and checks so far (see close). */
    this.peaks = new Map();
  }

  get live() {
    return this.vars.filter((x) => x.alive);
  }

  /** The optimizer that runs the base-class pipeline (skipNonFinite, nonFiniteSkips live there). */
  get innermost() {
    let o = this.opt;
    while (o.inner) o = o.inner;
    return o;
  }

  /** A slot by name. LossScaleOptimizer has no getSlot of its own: ask its inner optimizer (a wrapper answers for both). */
  slot(v, name) {
    return (this.lso ? this.opt.inner : this.opt).getSlot(v, name);
  }

  registered(x) {
    return this.ref.vars.has(x.r);
  }

  /** State variables the optimizer should hold: per registered variable, optimizer-level ones, the wrapper's. */
  stateCount() {
    const o = this.ref.o;
    const registered = this.vars.filter((x) => this.registered(x));
    let n = 0;
    for (const x of registered) n += this.family.slotCount(o, x.r.shape) + (o.useEma ? 1 : 0) + (o.gradientAccumulationSteps ? 1 : 0);
    if (this.built) n += globalCount(this.family, o); // optimizer-level state outlives the variables
    return n + (this.wrap ? this.wrap.slots.size : 0);
  }

  /** Names of the reference slots of x: the inner optimizer's (once it has made them) and the wrapper's. */
  slotNames(x) {
    const names = Object.keys(this.ref.vars.get(x.r)?.slots ?? {});
    if (this.wrap?.slots.has(x.r)) names.push(this.wrap.slotName);
    return names;
  }

  refSlot(x, name) {
    return name === this.wrap?.slotName ? this.wrap.slots.get(x.r) : this.ref.vars.get(x.r).slots[name];
  }


  /** Runs one operation; returns which variables' weights (and slots) it may change. */
  run(op, index) {
    const mayChange = new Set();
    const slotsMayChange = new Set();
    const r = rng(op.seed ?? index);
    switch (op.kind) {
      case 'create': {
        const values = r.f32(sizeOf(op.shape));
        const name = `prop${nameCounter++}`;
        const v = new Variable(values, { shape: op.shape, name }, this.heap);
        this.vars.push({ v, r: { values: Float64Array.from(values), shape: op.shape, name }, alive: true });
        break;
      }
      case 'nonFinite':
        // without either, NaN propagates into the weights, as in Keras
        if (!this.lso && !this.innermost.skipNonFinite) break;
      // falls through
      case 'apply':
        this.apply(op, r, mayChange, slotsMayChange);
        break;
      case 'assign': {
        const live = this.live;
        if (!live.length) break;
        const x = live[op.pick % live.length];
        const values = r.f32(x.v.size);
        x.v.assign(values);
        x.r.values = Float64Array.from(values);
        mayChange.add(x);
        break;
      }
      case 'dispose': {
        const live = this.live;
        if (!live.length) break;
        const x = live[op.pick % live.length];
        x.v.dispose();
        x.v.dispose(); // idempotent
        x.alive = false;
        // The optimizer forgets a disposed variable: its slots are freed at its next look at them.
        this.ref.vars.delete(x.r);
        this.wrap?.slots.delete(x.r);
        break;
      }
      case 'save': {
        this.checkpoint = {
          state: save(this.opt, op.binary),
          registered: this.vars.filter((x) => this.registered(x)),
          names: this.opt.variables.map((v) => v.name),
          weights: this.live.map((x) => [x, x.v.value.slice(), x.r.values.slice()]),
          ref: { rawIt: this.ref.rawIt, globals: structuredClone(this.ref.globals), vars: cloneMap(this.ref.vars) },
          wrap: this.wrap && { slots: cloneMap(this.wrap.slots) },
          lso: this.lso && { scale: this.lso.scale, counter: this.lso.counter },
        };
        break;
      }
      case 'restore': // the checkpoint back into the same optimizer
      case 'reload': { // the checkpoint into a fresh optimizer built for the saved variables
        const cp = this.checkpoint;
        if (!cp) break;
        if (op.kind === 'restore') {
          const names = this.opt.variables.map((v) => v.name);
          // A fresh optimizer (nothing built yet) defers a restore to when each variable is built.
          if (this.built && cp.names.some((name) => !names.includes(name))) {
            // a variable disposed since the save: its state was freed, the checkpoint still has it
            expectThrow(() => load(this.opt, cp.state), /the state has '/, 'restore after a variable was disposed');
            break;
          }
          if (this.built && names.some((name) => !cp.names.includes(name))) {
            // variables joined since the save, with state of their own: the state lacks it
            expectThrow(() => load(this.opt, cp.state), /the state lacks '/, 'restore with newer variables');
            break;
          }
          load(this.opt, cp.state);
        } else {
          // into a fresh optimizer of the same options, or one rebuilt from the checkpoint alone
          const viaCheckpoint = cp.state instanceof Uint8Array && op.fromCheckpoint;
          const fresh = viaCheckpoint ? null : this.config.make();
          const vars = cp.registered.map((x) => x.v);
          const reload = () => (viaCheckpoint ? Optimizer.fromCheckpoint(cp.state, vars) : (load(fresh, cp.state, vars), fresh));
          if (cp.registered.some((x) => !x.alive)) {
            expectThrow(reload, /disposed/, 'reload for a disposed variable');
            if (fresh) {
              assert.is(fresh.variables.length, 0, 'a refused reload leaves the fresh optimizer unbuilt');
              fresh.dispose();
            }
            break;
          }
          const loaded = reload();
          assert.ok(loaded instanceof this.config.Cls, 'the reloaded optimizer has the saved class');
          assert.equal(loaded.getConfig(), this.opt.getConfig(), 'the reloaded optimizer has the saved config');
          const old = this.opt;
          this.built = cp.registered.length > 0; // with none, the fresh optimizer defers the restore
          old.dispose();
          expectThrow(() => old.applyGradients([[new Float32Array(1), vars[0] ?? this.vars[0]?.v]]), /disposed/, 'the replaced optimizer');
          this.opt = loaded;
        }
        // the model weights of the checkpoint, as a training checkpoint restores them
        for (const [x, w32, w64] of cp.weights) {
          if (!x.alive) continue;
          x.v.assign(w32);
          x.r.values = w64.slice();
          mayChange.add(x);
        }
        // Restored in place, an optimizer keeps the variables it built after the save (they have
        // no state of their own, or the restore was refused above); a reloaded one has only the saved ones.
        const keepNewer = (now, saved) => {
          const out = cloneMap(saved);
          if (op.kind === 'restore') for (const [k, st] of now) if (!out.has(k)) out.set(k, st);
          return out;
        };
        this.ref.rawIt = cp.ref.rawIt;
        this.ref.globals = structuredClone(cp.ref.globals);
        this.ref.vars = keepNewer(this.ref.vars, cp.ref.vars);
        if (this.wrap) {
          const slots = keepNewer(this.wrap.slots, cp.wrap.slots);
          this.wrap.slots.clear();
          for (const [k, s] of slots) this.wrap.slots.set(k, s);
        }
        if (this.lso) Object.assign(this.lso, cp.lso);
        for (const x of this.vars) slotsMayChange.add(x);
        break;
      }
      case 'squeeze': {
        // Fits no free block, so memory grows and it lands at the end; a second block takes what
        // is left there. The next allocation that fits no hole (a variable, slots built in the
        // middle of a step, sparse scratch) grows memory again.
        const h = this.heap;
        const a = h.alloc(h.memory.buffer.byteLength - h.liveBytes);
        this.ballast.push(a);
        const rest = h.memory.buffer.byteLength - (a - GUARD + h.sizeOf(a));
        if (rest > 2 * GUARD) this.ballast.push(h.alloc(rest - 2 * GUARD));
        break;
      }
      default:
        throw new Error(`unknown operation ${op.kind}`);
    }
    return { mayChange, slotsMayChange };
  }

  /** One applyGradients call with random gradients for the live variables (one poisoned for 'nonFinite'). */
  apply(op, r, mayChange, slotsMayChange) {
    const live = this.live;
    if (r.uniform() < 0.5) live.reverse();
    // Behind a LossScaleOptimizer the gradients are those of the scaled loss: exactly S times the
    // unscaled ones (S is a power of two), which the reference divides back.
    const S = this.lso ? this.lso.scale : 1;
    const gradient = (n) => {
      const g = r.f32(n, 0.3);
      if (S !== 1) for (let i = 0; i < n; i++) g[i] *= S;
      return g;
    };
    const holders = [];
    const pairs = [];
    const entries = []; // the variables with a gradient, in pair order
    try {
      for (const x of live) {
        const u = r.uniform();
        const rows = x.r.shape[0];
        const row = x.v.size / rows;
        let g = null;
        if (u < 0.25) g = null;
        else if (u < 0.5) {
          const count = r.int(2 * rows + 2);
          const indices = Array.from({ length: count }, () => r.int(rows));
          if (count >= 2) indices[count - 1] = indices[0]; // a duplicate, unsorted
          g = { indices: r.uniform() < 0.5 ? Int32Array.from(indices) : indices, values: gradient(count * row) };
        } else if (u < 0.7) {
          // a gradient that already lives in wasm memory (read in place, survives memory growth)
          const h = new Variable(gradient(x.v.size), { name: `grad${nameCounter++}` }, this.heap);
          holders.push(h);
          g = h;
        } else g = gradient(x.v.size);
        pairs.push([g, x.v]);
        if (g !== null) entries.push(x);
      }
      // Views are taken last: creating the holders may have grown (and detached) memory.
      for (const p of pairs) if (p[0] instanceof Variable) p[0] = p[0].value;
      const poison = op.kind === 'nonFinite' ? pairs.find((p) => valuesOf(p[0]).length > 0) : undefined;
      if (poison) {
        const values = valuesOf(poison[0]);
        values[r.int(values.length)] = op.bad;
      }
      // What the reference gets: copies of the gradients as given (the wasm-resident ones die below).
      const given = pairs.filter(([g]) => g !== null).map(([g]) => (ArrayBuffer.isView(g) ? Float32Array.from(g) : { indices: Array.from(g.indices), values: Float32Array.from(g.values) }));
      if (entries.length === 0) {
        expectThrow(() => this.opt.applyGradients(pairs), /no gradients provided/, 'applyGradients without gradients');
      } else if (this.lso) {
        const skips = this.innermost.nonFiniteSkips;
        this.opt.applyGradients(pairs);
        const ran = this.lso.step(given.map(valuesOf), (unscaled) => this.applyReference(entries, given, unscaled, mayChange, slotsMayChange));
        // a non-finite step is the LossScaleOptimizer's to skip: the inner optimizer never sees it
        assert.is(this.innermost.nonFiniteSkips, skips, 'the inner optimizer skipped nothing');
        assert.is(ran, !poison, 'the LossScaleOptimizer skips exactly the non-finite steps');
      } else if (poison) {
        // skipped whole and counted: nothing changes, not even iterations
        const skips = this.innermost.nonFiniteSkips;
        this.opt.applyGradients(pairs);
        assert.is(this.innermost.nonFiniteSkips, skips + 1, 'nonFiniteSkips');
      } else {
        this.opt.applyGradients(pairs);
        this.applyReference(entries, given, given.map(valuesOf), mayChange, slotsMayChange);
      }
    } finally {
      for (const h of holders) h.dispose();
    }
  }

  /** The reference step for the gradients given (values: their unscaled values), and what it may change. */
  applyReference(entries, given, values, mayChange, slotsMayChange) {
    const N = this.ref.o.gradientAccumulationSteps;
    const refPairs = entries.map((x, k) => {
      const g = ArrayBuffer.isView(given[k]) ? values[k] : { indices: given[k].indices, values: values[k] };
      return [N ? this.accumulated32(g, x.r) : ArrayBuffer.isView(g) ? g : sumRows32(g, x.r.shape), x.r];
    });
    if (this.family.lazy) {
      // LazyAdam's rows: those a sparse gradient names (accumulated gradients are summed densely)
      this.ref.globals.touched = new Map();
      entries.forEach((x, k) => {
        if (!N && !ArrayBuffer.isView(given[k])) this.ref.globals.touched.set(x.r.values, new Set(given[k].indices));
      });
    }
    (this.wrap ?? this.ref).apply(refPairs);
    this.built ||= this.ref.vars.size > 0;
    if (this.family.lazy) this.ref.globals.touched = new Map();
    for (const x of entries) {
      mayChange.add(x);
      slotsMayChange.add(x);
    }
    if (this.ref.o.useEma) for (const x of this.vars) if (this.registered(x)) mayChange.add(x);
    if (this.wrap?.acted) {
      // a sync moves every weight and slow weight; a snapshot every average
      for (const x of this.vars) {
        if (!this.wrap.slots.has(x.r)) continue;
        slotsMayChange.add(x);
        if (this.wrap instanceof RefLookaheadModel) mayChange.add(x);
      }
    }
  }

  /**
   * Under gradient accumulation, what to give the reference for `g` so that its accumulator
   * becomes exactly the float32 one of the kernels: each (duplicate) row added in input order and
   * rounded, as the accumulator is float32 memory. Near-cancelling micro-steps then compare at
   * float32 precision instead of differing by the float32 rounding of their much larger terms.
   */
  accumulated32(g, r) {
    const ls = this.ref.o.lossScaleFactor ?? 1; // a power of two: scaling is exact
    const acc = this.ref.vars.get(r)?.acc ?? new Float64Array(r.values.length); // not registered yet: zeros
    const next = Float32Array.from(acc);
    if (ArrayBuffer.isView(g)) g.forEach((x, i) => (next[i] += Math.fround(x / ls)));
    else {
      // Duplicate rows are summed first (float32, input order), then each sum is added once.
      const row = next.length / r.shape[0];
      const sums = new Map();
      Array.from(g.indices).forEach((k, n) => {
        const sum = sums.get(k) ?? new Float32Array(row);
        for (let j = 0; j < row; j++) sum[j] += g.values[n * row + j];
        sums.set(k, sum);
      });
      for (const [k, sum] of sums) for (let j = 0; j < row; j++) next[k * row + j] += Math.fround(sum[j] / ls);
    }
    return Float64Array.from(next, (x, i) => (x - acc[i]) * ls);
  }

  /**
   * Weights start as N(0, 1) draws: 1 is their typical magnitude, the scale the conformance arrays'
   * largest weight gives. A weight that is small by chance keeps the float32 error of its updates
   * (Keras' float32 bias corrections are ~1e-5 off in relative terms at step 1). Slow weights and
   * SWA averages are weights too.
   */
  weightScale() {
    return Math.max(1, this.peaks.get('') ?? 0);
  }

  closeWeights(x) {
    close(x.r.name, x.v.value, x.r.values, this.weightScale());
  }

  /** Bit copies of every live weight and slot, for the canary check. */
  snapshot() {
    const out = new Map();
    for (const x of this.live) {
      const slots = {};
      for (const name of this.slotNames(x)) slots[name] = this.slot(x.v, name).value.slice();
      out.set(x, { w: x.v.value.slice(), slots });
    }
    return out;
  }

  check(before, { mayChange, slotsMayChange }, index) {
    this.heap.checkGuards();
    assert.is(this.opt.iterations, this.ref.iterations, 'iterations');
    assert.is(this.opt.variables.length, this.stateCount(), 'number of optimizer state variables');
    if (this.lso) assert.is(this.opt.dynamicScale, this.lso.scale, 'dynamicScale');
    const peak = (kind, values) => {
      let m = this.peaks.get(kind) ?? 0;
      for (const x of values) m = Math.max(m, Math.abs(x));
      this.peaks.set(kind, m);
    };
    for (const x of this.live) {
      peak('', x.r.values);
      const st = this.ref.vars.get(x.r);
      if (st) for (const [name, ref] of Object.entries(st.slots)) peak(name, ref);
    }
    for (const x of this.live) {
      this.closeWeights(x);
      for (const name of this.slotNames(x)) {
        const scale = name === this.wrap?.slotName ? this.weightScale() : this.peaks.get(name);
        close(`${x.r.name}/${name}`, this.slot(x.v, name).value, this.refSlot(x, name), scale);
      }
      const b = before.get(x);
      if (!b) continue;
      if (!mayChange.has(x)) sameBits(x.r.name, b.w, x.v.value);
      if (!slotsMayChange.has(x)) for (const [name, s] of Object.entries(b.slots)) sameBits(`${x.r.name}/${name}`, s, this.slot(x.v, name).value);
    }
    const dead = this.vars.filter((x) => !x.alive);
    for (const x of dead) {
      assert.ok(x.v.disposed);
      expectThrow(() => x.v.value, /was disposed/, `${x.r.name}.value`);
      expectThrow(() => x.v.ptr, /was disposed/, `${x.r.name}.ptr`);
      expectThrow(() => x.v.assign(new Float32Array(x.v.size)), /was disposed/, `${x.r.name}.assign`);
    }
    if (dead.length) {
      // A step naming a disposed variable, after a valid pair, is refused whole: nothing applied
      // (the next check against the reference proves it).
      const x = dead[index % dead.length];
      const ok = this.live[0];
      const pairs = ok ? [[new Float32Array(ok.v.size).fill(1), ok.v], [new Float32Array(x.v.size), x.v]] : [[new Float32Array(x.v.size), x.v]];
      expectThrow(() => this.opt.applyGradients(pairs), /was disposed/, 'applyGradients with a disposed variable');
      assert.is(this.opt.iterations, this.ref.iterations, 'iterations after a refused step');
      if (ok) this.closeWeights(ok);
    }
  }

  dispose() {
    this.opt.dispose();
    for (const x of this.vars) x.v.dispose();
    for (const p of this.ballast) this.heap.free(p);
  }
}

// ---------------------------------------------------------------- tests

for (const { name, config: configs, runs, seed } of SUITES) {
  const numRuns = RUNS ?? runs;
  test(`${name}: random operation sequences match the float64 reference after every operation (seed ${seed}, ${numRuns} runs)`, () => {
    let ops = 0;
    let grown = 0;
    const kinds = {};
    const property = fc.property(configs, fc.array(operation, { minLength: 1, maxLength: 40, size: 'max' }), (config, sequence) => {
      const heap = guardedArena();
      const model = new Model(config, heap);
      try {
        sequence.forEach((op, i) => {
          const before = model.snapshot();
          const buffer = heap.memory.buffer;
          try {
            model.check(before, model.run(op, i), i);
          } catch (e) {
            e.message = `operation ${i} (${JSON.stringify(op)}): ${e.message}`;
            throw e;
          }
          if (heap.memory.buffer !== buffer) grown++;
          ops++;
          kinds[op.kind] = (kinds[op.kind] ?? 0) + 1;
        });
      } finally {
        model.dispose();
      }
      heap.checkGuards();
      assert.is(heap.liveBytes, 0, 'every byte allocated by the run is freed once its variables and optimizer are disposed');
    });
    try {
      fc.assert(property, { seed, numRuns });
    } catch (e) {
      console.error(`property test failed: rerun with PROPERTY_SEED=${SEED} PROPERTY_FAMILY=${name} (the shrunk sequence is in the message below)`);
      if (e.cause) console.error('first error of the shrunk sequence:', e.cause);
      throw e;
    }
    const summary = Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(`  ${name}: ${ops} operations checked (${summary}); memory grew during ${grown} of them`);
  });
}

test.run();
