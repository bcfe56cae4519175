// A small MNIST-like data set, generated: 16x16 grey images of the digits 0-9 drawn from a 5x7
// bitmap font with a random affine distortion (scale, rotation, shear, shift), uneven ink and noise.
// Deterministic for a seed, so every run (and the browser demo) trains on the same images.

const FONT = [
  '01110 10001 10011 10101 11001 10001 01110',
  '00100 01100 00100 00100 00100 00100 01110',
  '01110 10001 00001 00010 00100 01000 11111',
  '11111 00010 00100 00010 00001 10001 01110',
  '00010 00110 01010 10010 11111 00010 00010',
  '11111 10000 11110 00001 00001 10001 01110',
  '00110 01000 10000 11110 10001 10001 01110',
  '11111 00001 00010 00100 01000 01000 01000',
  '01110 10001 10001 01110 10001 10001 01110',
  '01110 10001 10001 01111 00001 00010 01100',
].map((rows) => rows.split(' ').map((row) => [...row].map(Number)));

export const SIDE = 16;
export const PIXELS = SIDE * SIDE;
export const CLASSES = 10;

/** Seeded uniform numbers in [0, 1). */
export function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Ink of glyph `d` at fractional font coordinates (x right, y down), bilinear, 0 outside.
function ink(d, x, y) {
  const g = FONT[d];
  const at = (i, j) => (j >= 0 && j < 7 && i >= 0 && i < 5 ? g[j][i] : 0);
  const i = Math.floor(x);
  const j = Math.floor(y);
  const fx = x - i;
  const fy = y - j;
  return (at(i, j) * (1 - fx) + at(i + 1, j) * fx) * (1 - fy) + (at(i, j + 1) * (1 - fx) + at(i + 1, j + 1) * fx) * fy;
}

/** Draws digit `d` into `out` (PIXELS floats in [0, 1]) with a random distortion. */
function draw(d, out, offset, rand) {
  const scale = 1.4 + 0.9 * rand(); // output pixels per font cell
  const angle = (rand() - 0.5) * 0.7;
  const shear = (rand() - 0.5) * 0.7;
  const dx = (rand() - 0.5) * 4;
  const dy = (rand() - 0.5) * 3;
  const gain = 0.5 + 0.5 * rand();
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  for (let v = 0; v < SIDE; v++) {
    for (let u = 0; u < SIDE; u++) {
      // Output pixel centre -> font coordinates (inverse of rotate . shear . scale, about the centres).
      const px = u + 0.5 - SIDE / 2 - dx;
      const py = v + 0.5 - SIDE / 2 - dy;
      const rx = cos * px + sin * py;
      const ry = -sin * px + cos * py;
      const x = (rx - shear * ry) / scale + 2.5 - 0.5;
      const y = ry / scale + 3.5 - 0.5;
      const value = gain * Math.min(1, 1.3 * ink(d, x, y)) + 0.5 * (rand() - 0.5);
      out[offset + v * SIDE + u] = Math.min(1, Math.max(0, value));
    }
  }
}

/** `count` images (count x PIXELS floats) and their labels, balanced over the classes. */
export function digits(count, seed = 1) {
  const rand = random(seed);
  const images = new Float32Array(count * PIXELS);
  const labels = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    labels[k] = k % CLASSES;
    draw(labels[k], images, k * PIXELS, rand);
  }
  // Shuffle (Fisher-Yates) so mini-batches mix the classes.
  const row = new Float32Array(PIXELS);
  for (let k = count - 1; k > 0; k--) {
    const j = Math.floor(rand() * (k + 1));
    [labels[k], labels[j]] = [labels[j], labels[k]];
    row.set(images.subarray(k * PIXELS, (k + 1) * PIXELS));
    images.copyWithin(k * PIXELS, j * PIXELS, (j + 1) * PIXELS);
    images.set(row, j * PIXELS);
  }
  return { images, labels, count };
}

/** A digit as text art (for the terminal). */
export function asciiArt(images, k) {
  const shades = ' .:-=+*#%@';
  let s = '';
  for (let v = 0; v < SIDE; v++) {
    for (let u = 0; u < SIDE; u++) s += shades[Math.min(9, Math.floor(images[k * PIXELS + v * SIDE + u] * 10))].repeat(2);
    s += '\n';
  }
  return s;
}

/**
 * The generated set in the shape of examples/data/mnist.mjs's loadMnist(): the fallback where the
 * `mnist` package cannot be loaded (and the browser demo's data when no subset is served).
 */
export function generatedDigits({ train = 6000, test = 1000 } = {}) {
  return { train: digits(train, 1), test: digits(test, 2), side: SIDE, pixels: PIXELS, classes: CLASSES, name: `generated ${SIDE}x${SIDE} digits` };
}
