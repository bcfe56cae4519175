// The issue-2 optimizers against their float64 references: every own option takes two values (the
// learning rate one), and every combination of them runs with all 128 base combinations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ready, Variable, SGD, Adam, AdamW, Adamax, Nadam } from '../build/index.js';
import { assertSameBits, BASE_GRID, baseCombos, combos, conformance, conformanceAll } from './helpers/conformance.mjs';
import { sgd } from './reference/sgd.mjs';
import { adam, adamw } from './reference/adam.mjs';
import { adamax } from './reference/adamax.mjs';
import { nadam } from './reference/nadam.mjs';

await ready();

const cases = [
  [SGD, sgd, combos({ momentum: [0, 0.9], nesterov: [false, true], learningRate: [0.05] })],
  [Adam, adam, combos({ amsgrad: [false, true], beta1: [0.9, 0.8], beta2: [0.999, 0.9], epsilon: [1e-7, 1e-3], learningRate: [0.01] })],
  [AdamW, adamw, combos({ amsgrad: [false, true], beta1: [0.9, 0.8], beta2: [0.999, 0.9], epsilon: [1e-7, 1e-3], learningRate: [0.01] })],
  [Adamax, adamax, combos({ beta1: [0.9, 0.8], beta2: [0.999, 0.99], epsilon: [1e-7, 1e-3], learningRate: [0.01] })],
  [Nadam, nadam, combos({ beta1: [0.9, 0.8], beta2: [0.999, 0.9], epsilon: [1e-7, 1e-3], learningRate: [0.01] })],
];

// Where each float64 reference lives, for the worker threads of conformanceAll().
const REFS = { SGD: ['sgd', 'sgd'], Adam: ['adam', 'adam'], AdamW: ['adam', 'adamw'], Adamax: ['adamax', 'adamax'], Nadam: ['nadam', 'nadam'] };

for (const [Cls, , own] of cases) {
  test(`${Cls.className} matches the float64 reference for every option combination (SIMD == scalar)`, async () => {
    const [file, name] = REFS[Cls.className];
    const runs = own.flatMap((o) => baseCombos().map((b) => ({ ...o, ...b })));
    await conformanceAll(Cls.className, [new URL(`./reference/${file}.mjs`, import.meta.url).href, name], runs);
  });
}

test('the option cross: 128 base combinations, skipNonFinite among them, every own option with two values', () => {
  assert.is(baseCombos().length, 128);
  assert.equal(BASE_GRID.skipNonFinite, [undefined, true]);
  const keys = { Adam: ['amsgrad', 'beta1', 'beta2', 'epsilon'], AdamW: ['amsgrad', 'beta1', 'beta2', 'epsilon'], Adamax: ['beta1', 'beta2', 'epsilon'], Nadam: ['beta1', 'beta2', 'epsilon'] };
  for (const [Cls, , own] of cases) {
    for (const key of keys[Cls.className] ?? ['momentum', 'nesterov']) {
      assert.is(new Set(own.map((o) => o[key])).size, 2, `${Cls.className}.${key} takes two values`);
    }
  }
});

test('the SIMD == scalar check compares every slot (own and base-class), not only the weights', () => {
  const make = () => {
    const opt = new Adam({ learningRate: 0.1, useEma: true });
    const vars = [new Variable([1, 2, 3], { name: 'a' }), new Variable([4, 5], { name: 'b' })];
    opt.applyGradients([[new Float32Array([1, -1, 2]), vars[0]], [new Float32Array([0.5, 3]), vars[1]]]);
    return { opt, vars };
  };
  const a = make();
  const b = make();
  assertSameBits('identical runs', a, b);
  for (const slot of ['v', 'average']) {
    const c = make();
    // opt.variables lists every slot, also the EMA average that getSlot does not reach here.
    c.opt.variables.find((v) => v.name === `b/${slot}`).value[1] += 1; // the weights stay identical
    assert.equal(Array.from(c.vars[1].value), Array.from(a.vars[1].value));
    let caught = null;
    try {
      assertSameBits('tampered', a, c); // throws an uvu Assertion, which assert.throws rethrows
    } catch (e) {
      caught = e;
    }
    assert.match(caught?.message ?? 'nothing thrown', `tampered b/${slot}[1]: SIMD`, `a differing '${slot}' slot is caught`);
    [c.opt, ...c.vars].forEach((x) => x.dispose());
  }
  [a.opt, b.opt, ...a.vars, ...b.vars].forEach((x) => x.dispose());
});

test('defaults match Keras 3 (default learning rates and epsilon)', () => {
  for (const [Cls, spec] of cases) conformance(Cls, spec, {}, { steps: 10, seed: 7 });
});

test.run();
