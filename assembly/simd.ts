// Runtime switch between the f32x4 main loop and the plain scalar loop. Every kernel reads it once
// per call; the scalar path exists so tests can prove both paths agree and benchmarks can show the gain.
export let useSimd: bool = true;

export function setSimd(on: bool): void {
  useSimd = on;
}

// Number of leading elements the SIMD loop handles (a multiple of 4), 0 when SIMD is off.
// @ts-ignore: decorator
@inline
export function simdEnd(n: i32): i32 {
  return useSimd ? n & ~3 : 0;
}
