// Lion with an 8-bit momentum slot (quantize.ts): per block, dequantize into the slot's scratch,
// run Lion's own kernel (lion.ts), requantize stochastically (the momentum is a slow EMA: it moves
// by 1 - beta2, 1% a step by default, less than half a code step).
import { lion } from './lion';
import { QBLOCK, qAbsmax, qCodes, qDequantBlock, qQuantBlock, qScratch } from './quantize';

export function lionInt8(p: usize, g: usize, m: usize, n: i32, seg: i32, b1: f32, omb1: f32, b2: f32, omb2: f32, lr: f32, seed: u32): void {
  const mc = qCodes(m, n, seg);
  const sm = qScratch(m);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      const len = min(QBLOCK, seg - b);
      const ma = qAbsmax(m) + (bi << 2);
      qDequantBlock(mc + <usize>o, load<f32>(ma), sm, len, true);
      lion(p + (<usize>o << 2), g + (<usize>o << 2), sm, len, b1, omb1, b2, omb2, lr);
      qQuantBlock(sm, mc + <usize>o, ma, len, true, true, seed, <u32>o);
      bi++;
    }
  }
}
