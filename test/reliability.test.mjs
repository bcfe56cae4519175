// Checkpoints (bit-exact resume, refused corrupt/mismatched bytes), skipNonFinite, and dynamic
// loss scaling.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lib from '../build/index.js';
import { rng } from './helpers/random.mjs';
import { repoFile } from './helpers/load-ts.mjs';

const { ready, Variable, Optimizer, Adam, SGD, LossScaleOptimizer, STATE_FORMAT_VERSION } = lib;
await ready();

/** Every optimizer class the package exports, built with options that switch on its state. */
function everyOptimizer() {
  const out = [];
  for (const [name, C] of Object.entries(lib)) {
    if (typeof C !== 'function' || !(C.prototype instanceof Optimizer)) continue;
    if (name === 'OptimizerWrapper') continue; // the abstract base of Lookahead and SWA
    let make;
    try {
      new C({}).dispose();
      make = () => new C({ learningRate: 0.01, useEma: true });
    } catch {
      make = () => new C(new Adam({ learningRate: 0.01 }), {}); // a wrapper takes an inner optimizer
    }
    out.push([name, make]);
  }
  return out;
}

const SHAPES = [[17], [4, 6], [1], [3, 5]];
const makeVars = (init) => init.map((x, i) => new Variable(x, { name: `layer${i}/w`, shape: SHAPES[i] }));
function grads(seed, steps) {
  const r = rng(seed);
  return Array.from({ length: steps }, () => SHAPES.map((s) => r.f32(s.reduce((a, b) => a * b, 1), 0.5)));
}
const step = (opt, vars, gs) => opt.applyGradients(gs.map((g, i) => [g, vars[i]]));

test('saveState/loadState: train N, save, load into a fresh optimizer, train M == train N+M (every optimizer)', () => {
  const r = rng(11);
  const init = SHAPES.map((s) => r.f32(s.reduce((a, b) => a * b, 1)));
  const gs = grads(12, 12);
  const names = [];
  for (const [name, make] of everyOptimizer()) {
    names.push(name);
    const a = makeVars(init);
    const oa = make();
    gs.forEach((g) => step(oa, a, g));
    const b = makeVars(init);
    const ob = make();
    gs.slice(0, 5).forEach((g) => step(ob, b, g));
    const bytes = ob.saveState();
    const c = b.map((v) => new Variable(v.value, { name: v.name, shape: v.shape }));
    const oc = make();
    oc.loadState(bytes, c);
    gs.slice(5).forEach((g) => step(oc, c, g));
    a.forEach((v, i) => assert.equal(Array.from(c[i].value), Array.from(v.value), `${name} ${v.name}`));
    assert.is(oc.iterations, oa.iterations, `${name} iterations`);
    // and the class + config come back through the registry
    const d = b.map((v) => new Variable(v.value, { name: v.name, shape: v.shape }));
    const od = Optimizer.fromCheckpoint(bytes, d);
    assert.is(od.getClassName(), ob.getClassName());
    assert.equal(od.getConfig(), ob.getConfig());
    for (const x of [oa, ob, oc, od, ...a, ...b, ...c, ...d]) x.dispose();
  }
  assert.ok(names.length >= 6, `covered: ${names.join(', ')}`);
});

test('saveState: resume in a fresh process is bit-exact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-'));
  const r = rng(21);
  const init = SHAPES.map((s) => r.f32(s.reduce((a, b) => a * b, 1)));
  const gs = grads(22, 10);
  const full = makeVars(init);
  const o1 = new Adam({ learningRate: 0.01, amsgrad: true, useEma: true, gradientAccumulationSteps: 2 });
  gs.forEach((g) => step(o1, full, g));
  const half = makeVars(init);
  const o2 = new Adam({ learningRate: 0.01, amsgrad: true, useEma: true, gradientAccumulationSteps: 2 });
  gs.slice(0, 5).forEach((g) => step(o2, half, g));
  writeFileSync(join(dir, 'opt.bin'), o2.saveState());
  writeFileSync(join(dir, 'rest.json'), JSON.stringify({ weights: half.map((v) => Array.from(v.value)), grads: gs.slice(5).map((g) => g.map((x) => Array.from(x))) }));
  const child = `
    import * as lib from ${JSON.stringify(repoFile('build', 'index.js'))};
    import { readFileSync, writeFileSync } from 'node:fs';
    await lib.ready();
    const rest = JSON.parse(readFileSync(${JSON.stringify(join(dir, 'rest.json'))}, 'utf8'));
    const shapes = ${JSON.stringify(SHAPES)};
    const vars = rest.weights.map((w, i) => new lib.Variable(w, { name: 'layer' + i + '/w', shape: shapes[i] }));
    const opt = lib.Optimizer.fromCheckpoint(readFileSync(${JSON.stringify(join(dir, 'opt.bin'))}), vars);
    for (const g of rest.grads) opt.applyGradients(g.map((x, i) => [Float32Array.from(x), vars[i]]));
    writeFileSync(${JSON.stringify(join(dir, 'out.json'))}, JSON.stringify(vars.map((v) => Array.from(v.value))));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8' });
  assert.is(out.status, 0, out.stderr);
  const got = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
  full.forEach((v, i) => assert.equal(got[i], Array.from(v.value).map((x) => Number(x)), `w${i}`));
});

test('loadState: corrupt, truncated, wrong-version or mismatched bytes -> clear error, optimizer untouched', () => {
  const vars = makeVars(SHAPES.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.5)));
  const opt = new Adam({ learningRate: 0.1 });
  grads(3, 2).forEach((g) => step(opt, vars, g));
  const good = opt.saveState();
  const before = JSON.stringify([opt.iterations, Object.values(opt.getState().variables).map((e) => Array.from(e.values))]);
  const flip = (i) => { const b = good.slice(); b[i] ^= 0xff; return b; };
  const version = () => { const b = good.slice(); new DataView(b.buffer).setUint16(4, STATE_FORMAT_VERSION + 1, true); return b; };
  const otherVars = makeVars(SHAPES.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1))));
  const otherShape = new Adam();
  otherShape.applyGradients([[new Float32Array(3), new Variable([1, 2, 3], { name: 'layer0/w' })]]);
  const missing = new Adam();
  missing.applyGradients([[new Float32Array(17), new Variable(new Float32Array(17), { name: 'layer0/w', shape: [17] })]]);
  const cases = [
    [good.subarray(0, 10), /only 10 bytes/],
    [good.subarray(0, good.length - 7), /checksum mismatch|past the end/],
    [flip(3), /wrong magic/],
    [flip(good.length - 20), /checksum mismatch/],
    [version(), new RegExp(`format version ${STATE_FORMAT_VERSION + 1} is not supported`)],
    [new SGD({ momentum: 0.9 }).saveState(), /belongs to a SGD/],
    [otherShape.saveState(), /shape \[3\] in the state|lacks/],
    [missing.saveState(), /lacks 'layer1\/w\/m'/],
    ['not bytes', /must be a Uint8Array/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => opt.loadState(bytes), re);
    assert.is(JSON.stringify([opt.iterations, Object.values(opt.getState().variables).map((e) => Array.from(e.values))]), before);
  }
  const fresh = new Adam();
  assert.throws(() => fresh.loadState(missing.saveState(), otherVars), /lacks/);
  assert.is(fresh.variables.length, 0, 'a refused load leaves a fresh optimizer unbuilt');
});

test('skipNonFinite: a NaN/Inf step changes nothing and is counted; without it NaN propagates as in Keras', () => {
  for (const gradInWasm of [false, true]) {
    const w = new Variable(new Float32Array([1, 2, 3, 4, 5]), { name: 'w' });
    const gv = new Variable(new Float32Array(5), { name: 'g' });
    const opt = new Adam({ learningRate: 0.1, skipNonFinite: true, useEma: true });
    const g = (vals) => { gv.assign(vals); return gradInWasm ? gv.value : Float32Array.from(vals); };
    opt.applyGradients([[g([1, 1, 1, 1, 1]), w]]);
    const snap = () => JSON.stringify([Array.from(w.value), opt.iterations, Object.values(opt.getState().variables).map((e) => Array.from(e.values))]);
    const before = snap();
    opt.applyGradients([[g([1, NaN, 1, 1, 1]), w]]);
    opt.applyGradients([[g([1, 1, 1, 1, Infinity]), w]]);
    assert.is(snap(), before);
    assert.is(opt.nonFiniteSkips, 2);
    opt.applyGradients([[g([1, 1, 1, 1, 1]), w]]);
    assert.is(opt.iterations, 2);
    assert.is(opt.nonFiniteSkips, 2);
    // sparse and a first-seen variable are checked too
    const e = new Variable(new Float32Array(6), { shape: [3, 2], name: 'e' });
    opt.applyGradients([[g([1, 1, 1, 1, 1]), w], [{ indices: [1], values: new Float32Array([NaN, 0]) }, e]]);
    assert.is(opt.nonFiniteSkips, 3);
    assert.is(opt.variables.length, 3, 'the skipped step built no slots for e (w has m, v, average)');
  }
  const w = new Variable(new Float32Array([1, 2]), { name: 'plain' });
  new Adam().applyGradients([[new Float32Array([NaN, 1]), w]]);
  assert.ok(Number.isNaN(w.value[0]) && Number.isFinite(w.value[1]));
});

test('LossScaleOptimizer: dynamic scale halves on non-finite, doubles after dynamicGrowthSteps, applies unscaled gradients', () => {
  const a = new Variable(new Float32Array([1, 2, 3]), { name: 'a' });
  const b = new Variable(new Float32Array([1, 2, 3]), { name: 'a' });
  const lso = new LossScaleOptimizer(new SGD({ learningRate: 0.5 }), { initialScale: 8, dynamicGrowthSteps: 2 });
  const ref = new SGD({ learningRate: 0.5 });
  assert.is(lso.scaleLoss(3), 24);
  const g = [0.25, -0.5, 1];
  const scaled = (s) => Float32Array.from(g, (x) => x * s);
  lso.applyGradients([[scaled(8), a]]);
  ref.applyGradients([[Float32Array.from(g), b]]);
  assert.equal(Array.from(a.value), Array.from(b.value));
  assert.is(lso.dynamicScale, 8);
  lso.applyGradients([[scaled(8), a]]); // second finite step: the scale doubles
  ref.applyGradients([[Float32Array.from(g), b]]);
  assert.is(lso.dynamicScale, 16);
  const snap = Array.from(a.value);
  lso.applyGradients([[Float32Array.from([Infinity, 0, 0]), a]]); // overflow: skip and halve
  assert.equal(Array.from(a.value), snap);
  assert.is(lso.dynamicScale, 8);
  assert.is(lso.iterations, 2);
  lso.applyGradients([[{ indices: [2, 2], values: Float32Array.from([8, 8]) }, a]]); // sparse: 2 summed rows of 1
  ref.applyGradients([[Float32Array.from([0, 0, 2]), b]]);
  assert.equal(Array.from(a.value), Array.from(b.value));
  // config and state round-trip (the inner optimizer is rebuilt through the registry)
  const again = lib.deserialize({ className: 'LossScaleOptimizer', config: lso.getConfig() });
  assert.instance(again.inner, SGD);
  const c = new Variable(a.value, { name: 'a' });
  again.loadState(lso.saveState(), [c]);
  assert.is(again.dynamicScale, lso.dynamicScale);
  assert.throws(() => new LossScaleOptimizer(new SGD(), { clipnorm: 1 }), /unknown option\(s\) clipnorm/);
  assert.throws(() => new LossScaleOptimizer({}), /inner must be an Optimizer/);
  assert.throws(() => new LossScaleOptimizer(new SGD(), { initialScale: 0 }), /initialScale/);
});

test('wrappers: a step the inner optimizer skips builds nothing; skips, learning rate and slots are forwarded', () => {
  for (const make of [(inner) => new lib.Lookahead(inner), (inner) => new lib.SWA(inner), (inner) => new LossScaleOptimizer(inner)]) {
    const a = new Variable(new Float32Array([1, 2]), { name: 'a' });
    const inner = new Adam({ learningRate: 0.5, skipNonFinite: true });
    const w = make(inner);
    w.applyGradients([[new Float32Array([NaN, 1]), a]]);
    assert.is(w.variables.length, 0, `${w.getClassName()}: no slot built on a skipped step`);
    assert.is(w.nonFiniteSkips, 1, `${w.getClassName()}: the skip is visible`);
    assert.equal(Array.from(a.value), [1, 2]);
    const restored = Optimizer.fromCheckpoint(w.saveState(), []); // the checkpoint holds nothing half-built
    assert.is(restored.iterations, 0);
    assert.is(w.learningRate, 0.5);
    w.learningRate = 0.25;
    assert.is(inner.learningRate, 0.25);
    w.applyGradients([[new Float32Array([1, 1]), a]]);
    assert.is(w.getSlot(a, 'm'), inner.getSlot(a, 'm'));
    w.dispose();
    a.dispose();
  }
});

test.run();
