// Adafactor (Keras 3). With G = g^2 + eps1 and b = beta2_t = 1 - t^beta2Decay (from TS):
//   rank < 2 : v = b v + (1-b) G;                                   u = g / sqrt(v)
//   rank >= 2: the last two axes [rows, cols] are factored (leading axes are independent batches):
//              r = b r + (1-b) mean_cols(G); c = b c + (1-b) mean_rows(G); u = g / sqrt((r / mean(r)) c)
//   w -= step * u,  step = alpha_t / max(1, RMS(u) / clipThreshold)  (TS: it needs sum(u^2) first).
// Factored variables store only r and c (rows + cols floats, not rows * cols), so u is recomputed
// from them (u4/u1 below) in the sum-of-squares pass and again in the apply pass.
// `pl`: the step pipeline (assembly/pipeline.ts): every pass reads g through pipeG (the same bits
// each time), the apply pass decays w on its one load and stores it with the EMA; RMS(w) of the
// decayed weights is common.ts's sumSquares given the record (read only).
import { pipeFlags, pipeG, pipeG1, pipeStoreW, pipeStoreW1, pipeW, pipeW1 } from './pipeline';
import { simdEnd } from './simd';

// @ts-ignore: decorator
@inline
function upper(x: v128): v128 {
  return v128.swizzle(x, i8x16(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
}

// f64x2 partial sums of the four lanes (reductions run in f64 so the tensor size barely matters).
// @ts-ignore: decorator
@inline
function sum2(x: v128): v128 {
  return f64x2.add(f64x2.promote_low_f32x4(x), f64x2.promote_low_f32x4(upper(x)));
}

// @ts-ignore: decorator
@inline
function squares2(x: v128): v128 {
  const lo = f64x2.promote_low_f32x4(x);
  const hi = f64x2.promote_low_f32x4(upper(x));
  return f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi));
}

// @ts-ignore: decorator
@inline
function lanes(x: v128): f64 {
  return f64x2.extract_lane(x, 0) + f64x2.extract_lane(x, 1);
}

// u = g / sqrt(v): written once for both passes, so the apply pass sees the u that was measured.
// @ts-ignore: decorator
@inline
function u4(g: v128, v: v128): v128 {
  return f32x4.div(g, f32x4.sqrt(v));
}

// @ts-ignore: decorator
@inline
function u1(g: f32, v: f32): f32 {
  return g / sqrt<f32>(v);
}

/** Rank < 2: updates v and returns sum(u^2). */
export function adafactorVector(g: usize, v: usize, n: i32, b: f32, omb: f32, eps1: f32, pl: usize): f64 {
  const f = pipeFlags(pl);
  const vb = f32x4.splat(b);
  const vo = f32x4.splat(omb);
  const ve = f32x4.splat(eps1);
  let acc2 = f64x2.splat(0);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const gi = pipeG(v128.load(g + o), f, pl);
    const vi = f32x4.add(f32x4.mul(vb, v128.load(v + o)), f32x4.mul(vo, f32x4.add(f32x4.mul(gi, gi), ve)));
    v128.store(v + o, vi);
    acc2 = f64x2.add(acc2, squares2(u4(gi, vi)));
  }
  let acc = lanes(acc2);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = pipeG1(load<f32>(g + o), f, pl);
    const vi = b * load<f32>(v + o) + omb * (gi * gi + eps1);
    store<f32>(v + o, vi);
    const u = <f64>u1(gi, vi);
    acc += u * u;
  }
  return acc;
}

/** Rank < 2: w -= step * g / sqrt(v). */
export function adafactorVectorApply(p: usize, g: usize, v: usize, n: i32, step: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const vs = f32x4.splat(step);
  const e = simdEnd(n);
  let i = 0;
  for (; i < e; i += 4) {
    const o = <usize>i << 2;
    const u = u4(pipeG(v128.load(g + o), f, pl), v128.load(v + o));
    pipeStoreW(p + o, f32x4.sub(pipeW(v128.load(p + o), f, pl), f32x4.mul(u, vs)), f, pl);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    pipeStoreW1(p + o, pipeW1(load<f32>(p + o), f, pl) - u1(pipeG1(load<f32>(g + o), f, pl), load<f32>(v + o)) * step, f, pl);
  }
}

/**
 * Rank >= 2: updates r ([nb, rows]) and c ([nb, cols]) from g ([nb, rows, cols]). The column
 * mean is accumulated row by row into the decayed c, (1-b)/rows at a time, so no buffer is needed.
 */
export function adafactorFactored(g: usize, r: usize, c: usize, nb: i32, rows: i32, cols: i32, b: f32, omb: f32, eps1: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const rowBytes = <usize>cols << 2;
  const k: f32 = omb / <f32>rows;
  const vb = f32x4.splat(b);
  const vk = f32x4.splat(k);
  const ve = f32x4.splat(eps1);
  const e = simdEnd(cols);
  for (let bi = 0; bi < nb; bi++) {
    const cb = c + <usize>bi * rowBytes;
    const rb = r + (<usize>bi * <usize>rows << 2);
    let j = 0;
    for (; j < e; j += 4) v128.store(cb + (<usize>j << 2), f32x4.mul(v128.load(cb + (<usize>j << 2)), vb));
    for (; j < cols; j++) store<f32>(cb + (<usize>j << 2), load<f32>(cb + (<usize>j << 2)) * b);
    for (let i = 0; i < rows; i++) {
      const gr = g + (<usize>bi * <usize>rows + <usize>i) * rowBytes;
      let s2 = f64x2.splat(0);
      j = 0;
      for (; j < e; j += 4) {
        const o = <usize>j << 2;
        const gi = pipeG(v128.load(gr + o), f, pl);
        const G = f32x4.add(f32x4.mul(gi, gi), ve);
        v128.store(cb + o, f32x4.add(v128.load(cb + o), f32x4.mul(vk, G)));
        s2 = f64x2.add(s2, sum2(G));
      }
      let s = lanes(s2);
      for (; j < cols; j++) {
        const o = <usize>j << 2;
        const gi = pipeG1(load<f32>(gr + o), f, pl);
        const G = gi * gi + eps1;
        store<f32>(cb + o, load<f32>(cb + o) + k * G);
        s += <f64>G;
      }
      const ro = rb + (<usize>i << 2);
      store<f32>(ro, b * load<f32>(ro) + omb * <f32>(s / <f64>cols));
    }
  }
}

// mean(r) over one batch's rows; a plain loop so both kernel paths get the same bits.
// @ts-ignore: decorator
@inline
function rowMean(rb: usize, rows: i32): f32 {
  let s: f64 = 0;
  for (let i = 0; i < rows; i++) s += <f64>load<f32>(rb + (<usize>i << 2));
  return <f32>(s / <f64>rows);
}

/** Rank >= 2: sum(u^2) with u = g / sqrt((r_i / mean(r)) * c_j). */
export function adafactorFactoredRms(g: usize, r: usize, c: usize, nb: i32, rows: i32, cols: i32, pl: usize): f64 {
  const f = pipeFlags(pl);
  const rowBytes = <usize>cols << 2;
  const e = simdEnd(cols);
  let acc2 = f64x2.splat(0);
  let acc: f64 = 0;
  for (let bi = 0; bi < nb; bi++) {
    const cb = c + <usize>bi * rowBytes;
    const rb = r + (<usize>bi * <usize>rows << 2);
    const mean = rowMean(rb, rows);
    for (let i = 0; i < rows; i++) {
      const gr = g + (<usize>bi * <usize>rows + <usize>i) * rowBytes;
      const a = load<f32>(rb + (<usize>i << 2)) / mean;
      const va = f32x4.splat(a);
      let j = 0;
      for (; j < e; j += 4) {
        const o = <usize>j << 2;
        acc2 = f64x2.add(acc2, squares2(u4(pipeG(v128.load(gr + o), f, pl), f32x4.mul(va, v128.load(cb + o)))));
      }
      for (; j < cols; j++) {
        const o = <usize>j << 2;
        const u = <f64>u1(pipeG1(load<f32>(gr + o), f, pl), a * load<f32>(cb + o));
        acc += u * u;
      }
    }
  }
  return lanes(acc2) + acc;
}

/** Rank >= 2: w -= step * u, u recomputed as in adafactorFactoredRms. */
export function adafactorFactoredApply(p: usize, g: usize, r: usize, c: usize, nb: i32, rows: i32, cols: i32, step: f32, pl: usize): void {
  const f = pipeFlags(pl);
  const rowBytes = <usize>cols << 2;
  const e = simdEnd(cols);
  const vs = f32x4.splat(step);
  for (let bi = 0; bi < nb; bi++) {
    const cb = c + <usize>bi * rowBytes;
    const rb = r + (<usize>bi * <usize>rows << 2);
    const mean = rowMean(rb, rows);
    for (let i = 0; i < rows; i++) {
      const off = (<usize>bi * <usize>rows + <usize>i) * rowBytes;
      const gr = g + off;
      const pr = p + off;
      const a = load<f32>(rb + (<usize>i << 2)) / mean;
      const va = f32x4.splat(a);
      let j = 0;
      for (; j < e; j += 4) {
        const o = <usize>j << 2;
        const u = u4(pipeG(v128.load(gr + o), f, pl), f32x4.mul(va, v128.load(cb + o)));
        pipeStoreW(pr + o, f32x4.sub(pipeW(v128.load(pr + o), f, pl), f32x4.mul(u, vs)), f, pl);
      }
      for (; j < cols; j++) {
        const o = <usize>j << 2;
        pipeStoreW1(pr + o, pipeW1(load<f32>(pr + o), f, pl) - u1(pipeG1(load<f32>(gr + o), f, pl), a * load<f32>(cb + o)) * step, f, pl);
      }
    }
  }
}
