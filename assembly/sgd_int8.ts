// SGD with momentum and an 8-bit momentum slot (quantize.ts): per block, dequantize into the
// slot's scratch, run SGD's own kernel (sgd.ts), requantize (to nearest: m moves by 1 - momentum).
import { sgdMomentum } from './sgd';
import { QBLOCK, qAbsmax, qCodes, qDequantBlock, qQuantBlock, qScratch } from './quantize';

export function sgdMomentumInt8(p: usize, g: usize, m: usize, n: i32, seg: i32, lr: f32, mu: f32, nesterov: bool): void {
  const mc = qCodes(m, n, seg);
  const sm = qScratch(m);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const o = s + b;
      const len = min(QBLOCK, seg - b);
      const ma = qAbsmax(m) + (bi << 2);
      qDequantBlock(mc + <usize>o, load<f32>(ma), sm, len, true);
      sgdMomentum(p + (<usize>o << 2), g + (<usize>o << 2), sm, len, lr, mu, nesterov);
      qQuantBlock(sm, mc + <usize>o, ma, len, true, false, 0, 0);
      bi++;
    }
  }
}
