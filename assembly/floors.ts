// Benchmark-only floor kernels (built into build/floors.wasm, not shipped in the optimizer module):
// what any one-pass optimizer must pay in memory traffic and in arithmetic. An optimizer with k
// full-size slots reads the weights, the gradient and its k slots and writes the weights and the
// slots: the stream kernels below move exactly those bytes with trivial arithmetic.
// n must be a multiple of 4 (the benchmark sizes are).

/** Reads 2 streams, writes 1: the traffic of an optimizer without slots (SGD). */
export function stream2r1w(a: usize, b: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(b + o, f32x4.add(v128.load(b + o), v128.load(a + o)));
  }
}

/** Reads 3 streams, writes 2: one slot (momentum, RMSprop, Adagrad, Lion). */
export function stream3r2w(a: usize, b: usize, c: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(a + o);
    const y = v128.load(b + o);
    v128.store(b + o, f32x4.add(y, x));
    v128.store(c + o, f32x4.add(v128.load(c + o), y));
  }
}

/** Reads 4 streams, writes 3: two slots, Adam's memory traffic. */
export function stream4r3w(a: usize, b: usize, c: usize, d: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(a + o);
    const y = v128.load(b + o);
    v128.store(b + o, f32x4.add(y, x));
    v128.store(c + o, f32x4.add(v128.load(c + o), x));
    v128.store(d + o, f32x4.add(v128.load(d + o), y));
  }
}

/** Reads 5 streams, writes 4: three slots (AMSGrad). */
export function stream5r4w(a: usize, b: usize, c: usize, d: usize, e: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(a + o);
    const y = v128.load(b + o);
    v128.store(b + o, f32x4.add(y, x));
    v128.store(c + o, f32x4.add(v128.load(c + o), x));
    v128.store(d + o, f32x4.add(v128.load(d + o), y));
    v128.store(e + o, f32x4.add(v128.load(e + o), x));
  }
}

/** One sqrt and one division per element over two streams: Adam's unavoidable arithmetic. */
export function sqrtDiv(a: usize, b: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(a + o, f32x4.div(v128.load(a + o), f32x4.add(f32x4.sqrt(v128.load(b + o)), one)));
  }
}

/** One division per element over two streams: Adamax's unavoidable arithmetic (no sqrt). */
export function divOnly(a: usize, b: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(a + o, f32x4.div(v128.load(a + o), f32x4.add(v128.load(b + o), one)));
  }
}

export function memcopy(dst: usize, src: usize, bytes: usize): void {
  memory.copy(dst, src, bytes);
}
