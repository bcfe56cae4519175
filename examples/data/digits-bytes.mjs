// Digit sets as compact bytes, for places that cannot read the `mnist` package's files: the browser
// demo (../demo-web/serve.mjs serves a subset) and the workerd example (a data module). Runs anywhere.
// Layout (little-endian): uint32 side, uint32 train count, uint32 test count, then the train labels
// and the test labels (one byte each), then the train pixels and the test pixels (side * side bytes
// per image, the grey value * 255 rounded: MNIST's own bytes).

const HEADER = 12;

/** `source` ({ train, test, side } as loadMnist() returns) as bytes. */
export function encodeDigits({ train, test, side }) {
  const pixels = side * side;
  const bytes = new Uint8Array(HEADER + (train.count + test.count) * (1 + pixels));
  const view = new DataView(bytes.buffer);
  [side, train.count, test.count].forEach((n, i) => view.setUint32(4 * i, n, true));
  bytes.set(train.labels, HEADER);
  bytes.set(test.labels, HEADER + train.count);
  let at = HEADER + train.count + test.count;
  for (const set of [train, test]) {
    for (let i = 0; i < set.count * pixels; i++) bytes[at + i] = Math.round(set.images[i] * 255);
    at += set.count * pixels;
  }
  return bytes;
}

/** The inverse of encodeDigits (images as floats in [0, 1]), in the shape loadMnist() returns. */
export function decodeDigits(buffer, name) {
  const view = new DataView(buffer);
  const [side, trainCount, testCount] = [0, 1, 2].map((i) => view.getUint32(4 * i, true));
  const pixels = side * side;
  if (buffer.byteLength !== HEADER + (trainCount + testCount) * (1 + pixels)) {
    throw new Error(`decodeDigits: ${buffer.byteLength} bytes do not hold ${trainCount} + ${testCount} images of ${side}x${side}`);
  }
  let at = HEADER + trainCount + testCount;
  const set = (count, labelsAt) => {
    const grey = new Uint8Array(buffer, at, count * pixels);
    at += count * pixels;
    return { images: Float32Array.from(grey, (v) => v / 255), labels: Int32Array.from(new Uint8Array(buffer, labelsAt, count)), count };
  };
  const train = set(trainCount, HEADER);
  const test = set(testCount, HEADER + trainCount);
  return { train, test, side, pixels, classes: 10, name };
}
