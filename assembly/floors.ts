// Benchmark-only floor kernels (built into build/floors.wasm, not shipped in the optimizer module):
// what any 1-pass Adam must pay in memory traffic and in arithmetic.

/** Reads 4 streams, writes 3: Adam's memory traffic with trivial arithmetic. */
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

/** One sqrt and one division per element over two streams: Adam's unavoidable arithmetic. */
export function sqrtDiv(a: usize, b: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(a + o, f32x4.div(v128.load(a + o), f32x4.add(f32x4.sqrt(v128.load(b + o)), one)));
  }
}

export function memcopy(dst: usize, src: usize, bytes: usize): void {
  memory.copy(dst, src, bytes);
}
