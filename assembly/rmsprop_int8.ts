// RMSprop with 8-bit slots (quantize.ts): velocity (unsigned, stochastic rounding: a slow EMA) and
// momentum (signed, to nearest); per block, dequantize into the slots' scratch, run RMSprop's own
// kernel (rmsprop.ts), requantize. `mom` is 0 without momentum. Centered RMSprop is refused in
// TypeScript: v - a^2 of two 8-bit moments can go negative.
import { rmsprop } from './rmsprop';
import { QBLOCK, qAbsmax, qCodes, qDequantBlock, qQuantBlock, qScratch } from './quantize';

export function rmspropInt8(p: usize, g: usize, v: usize, mom: usize, n: i32, seg: i32, rho: f32, omr: f32, lr: f32, eps: f32, mu: f32, seed: u32): void {
  const vc = qCodes(v, n, seg);
  const mc: usize = mom == 0 ? 0 : qCodes(mom, n, seg);
  const sv = qScratch(v);
  const sm: usize = mom == 0 ? 0 : qScratch(mom);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      const len = min(QBLOCK, seg - b);
      const va = qAbsmax(v) + (bi << 2);
      qDequantBlock(vc + <usize>o, load<f32>(va), sv, len, false);
      if (mom != 0) qDequantBlock(mc + <usize>o, load<f32>(qAbsmax(mom) + (bi << 2)), sm, len, true);
      rmsprop(p + (<usize>o << 2), g + (<usize>o << 2), sv, 0, sm, len, rho, omr, lr, eps, mu);
      qQuantBlock(sv, vc + <usize>o, va, len, false, true, seed, <u32>o);
      if (mom != 0) qQuantBlock(sm, mc + <usize>o, qAbsmax(mom) + (bi << 2), len, true, false, 0, 0);
      bi++;
    }
  }
}
