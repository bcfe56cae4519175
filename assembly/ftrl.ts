// Ftrl (Keras 3). TS passes e = -learningRatePower (>= 0), invLr = 1/lr, q = 2*l2 + beta/lr (Keras'
// 2*l2' with l2' = l2 + beta/(2 lr)) and s2 = 2*l2ShrinkageRegularizationStrength:
//   n' = n + g^2   (the raw gradient);   z += (g + s2*w) - (n'^e - n^e)*invLr * w
//   w = (clip(z, -l1, l1) - z) / (n'^e*invLr + q)   (so w = 0 while |z| <= l1);   n = n'
// n'^e - n^e is computed without cancellation: once g^2 << n, subtracting the two rounded f32 powers
// (as Keras does) keeps few correct digits (~1e-4 relative with a loss scale of 64 in our tests).
// e = 0.5 (Keras' default) uses g^2 / (sqrt(n') + sqrt(n)); e = 0 (a fixed rate) makes it 0; other
// powers subtract f64 powers of the exact f64 sum n + g^2.
// `pl`: the step pipeline (assembly/pipeline.ts), folded into the one pass.
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

const SQRT: i32 = 0;
const ONE: i32 = 1;
const POW: i32 = 2;

export function ftrl(p: usize, g: usize, acc: usize, z: usize, n: i32, e: f32, invLr: f32, l1: f32, q: f32, s2: f32, pl: usize): void {
  if (e == 0.5) ftrlLoop(p, g, acc, z, n, e, invLr, l1, q, s2, SQRT, pl);
  else if (e == 0) ftrlLoop(p, g, acc, z, n, e, invLr, l1, q, s2, ONE, pl);
  else ftrlLoop(p, g, acc, z, n, e, invLr, l1, q, s2, POW, pl);
}

// @ts-ignore: decorator
@inline
function ftrlLoop(p: usize, g: usize, acc: usize, z: usize, n: i32, e: f32, invLr: f32, l1: f32, q: f32, s2: f32, mode: i32, pl: usize): void {
  const f = pipeFlags(pl);
  const zero = f32x4.splat(0);
  const vinv = f32x4.splat(invLr);
  const vl1 = f32x4.splat(l1);
  const vnl1 = f32x4.splat(-l1);
  const vq = f32x4.splat(q);
  const vs2 = f32x4.splat(s2);
  // A general power has no vector form, so that mode runs the scalar loop only.
  const end = mode == POW ? 0 : simdEnd(n);
  let i = 0;
  for (; i < end; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const wi = pipeW(v128.load(p + o), f, pl);
    const ni = v128.load(acc + o);
    const g2 = f32x4.mul(gi, gi);
    const nn = f32x4.add(ni, g2);
    let pn = f32x4.splat(1);
    let sigma = zero;
    if (mode == SQRT) {
      pn = f32x4.sqrt(nn);
      // g^2 == 0 lanes: the difference is 0 (and the quotient could be 0/0).
      sigma = f32x4.mul(v128.andnot(f32x4.div(g2, f32x4.add(pn, f32x4.sqrt(ni))), f32x4.eq(g2, zero)), vinv);
    }
    const zi = f32x4.add(v128.load(z + o), f32x4.sub(f32x4.add(gi, f32x4.mul(vs2, wi)), f32x4.mul(sigma, wi)));
    const quad = f32x4.add(f32x4.mul(pn, vinv), vq);
    v128.store(acc + o, nn);
    v128.store(z + o, zi);
    pipeStoreW(p + o, f32x4.div(f32x4.sub(f32x4.min(f32x4.max(zi, vnl1), vl1), zi), quad), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const wi = pipeW1(load<f32>(p + o), f, pl);
    const ni = load<f32>(acc + o);
    const g2 = gi * gi;
    const nn = ni + g2;
    let pn: f32 = 1;
    let diff: f32 = 0;
    if (mode == SQRT) {
      pn = sqrt<f32>(nn);
      diff = g2 == 0 ? 0 : g2 / (pn + sqrt<f32>(ni));
    } else if (mode == POW) {
      const a = pow64(<f64>ni + <f64>gi * <f64>gi, <f64>e);
      pn = <f32>a;
      diff = <f32>(a - pow64(<f64>ni, <f64>e));
    }
    const sigma = diff * invLr;
    const zi = load<f32>(z + o) + ((gi + s2 * wi) - sigma * wi);
    const quad = pn * invLr + q;
    store<f32>(acc + o, nn);
    store<f32>(z + o, zi);
    pipeStoreW1(p + o, (min<f32>(max<f32>(zi, -l1), l1) - zi) / quad, f, pl);
  }
}

const LN2_HI: f64 = 6.93147180369123816490e-1; // ln 2 with its low 32 bits zero: j*LN2_HI is exact
const LN2_LO: f64 = 1.90821492927058770002e-10;

/**
 * x^e for an accumulator x >= 0 and e > 0, with no lookup tables: the standard library's pow reads
 * tables from data segments, and this module must have none (it is instantiated over foreign
 * memory). Log by the atanh series, exp by range reduction and a Taylor polynomial: ~1e-15 relative.
 */
function pow64(x: f64, e: f64): f64 {
  if (x != x || x < 0) return NaN;
  if (x == 0 || x == Infinity) return x;
  const bits = reinterpret<u64>(x);
  let k = <i32>(bits >> 52) - 1023; // x comes from f32 values, so it is a normal f64
  let m = reinterpret<f64>((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000); // x = m * 2^k, m in [1, 2)
  if (m > 1.4142135623730951) {
    m *= 0.5;
    k++;
  }
  // ln m = 2 atanh(f) with f = (m - 1)/(m + 1), |f| <= 0.1716.
  const f = (m - 1) / (m + 1);
  const s = f * f;
  const lnm = 2 * f * (1 + s * (1.0 / 3 + s * (1.0 / 5 + s * (1.0 / 7 + s * (1.0 / 9 + s * (1.0 / 11 + s * (1.0 / 13 + s * (1.0 / 15 + s * (1.0 / 17 + s * (1.0 / 19))))))))));
  const y = e * (<f64>k * LN2_HI + (<f64>k * LN2_LO + lnm));
  if (y > 700) return Infinity; // far above the f32 range the result is cast to
  if (y < -700) return 0;
  // exp(y) = 2^j * exp(r), |r| <= ln2 / 2.
  const j = nearest<f64>(y * 1.4426950408889634);
  const r = y - j * LN2_HI - j * LN2_LO;
  const er = 1 + r * (1 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040 +
    r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600))))))))))));
  return er * reinterpret<f64>(<u64>(<i64>j + 1023) << 52);
}
