// Seeded random numbers so every failure is reproducible.
export function rng(seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const f32 = (n, scale = 1) => Float32Array.from({ length: n }, () => normal() * scale);
  const int = (n) => Math.floor(uniform() * n);
  return { uniform, normal, f32, int };
}
