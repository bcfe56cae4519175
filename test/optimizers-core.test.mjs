// The issue-2 optimizers against their float64 references, every option combination.
import { test } from 'uvu';
import { ready, SGD, Adam, AdamW, Adamax, Nadam } from '../build/index.js';
import { baseCombos, combos, conformance } from './helpers/conformance.mjs';
import { sgd } from './reference/sgd.mjs';
import { adam, adamw } from './reference/adam.mjs';
import { adamax } from './reference/adamax.mjs';
import { nadam } from './reference/nadam.mjs';

await ready();

const cases = [
  [SGD, sgd, combos({ momentum: [0, 0.9], nesterov: [false, true], learningRate: [0.05] })],
  [Adam, adam, combos({ amsgrad: [false, true], learningRate: [0.01] })],
  [AdamW, adamw, combos({ amsgrad: [false, true], learningRate: [0.01], beta1: [0.8] })],
  [Adamax, adamax, combos({ learningRate: [0.01], beta2: [0.99] })],
  [Nadam, nadam, combos({ learningRate: [0.01] })],
];

for (const [Cls, spec, own] of cases) {
  test(`${Cls.className} matches the float64 reference for every option combination (SIMD == scalar)`, () => {
    for (const o of own) for (const b of baseCombos()) conformance(Cls, spec, { ...o, ...b });
  });
}

test('defaults match Keras 3 (default learning rates and epsilon)', () => {
  for (const [Cls, spec] of cases) conformance(Cls, spec, {}, { steps: 10, seed: 7 });
});

test.run();
