// Dense float32 matrix products for Muon's Newton-Schulz iteration (row-major, no aliasing between
// the output and any input). Every output element is one sum over k in increasing k order,
// starting from +0, one f32 multiply and one f32 add per term (wasm has no fused multiply-add), so
// the f32x4 path (four output columns per vector) and the scalar path give the same bits: blocking
// only changes when a partial sum is stored and reloaded, never the order of the additions.
//
// SIMD path: the right operand is packed, KC rows by NC columns at a time, into panels of 8
// columns (k-major, 32 bytes per k, zero-padded), so the 4x8 register tile streams it from L1;
// left-operand elements are broadcast from their rows. The pack buffer has matmulPackFloats() floats.
import { useSimd } from './simd';

const KC: i32 = 256; // rows of the right operand per pack (the k block)
const NC: i32 = 512; // columns per pack
const MC: i32 = 64; // rows of the left operand per pass over one panel

/** Floats the pack buffer of a product with inner size k and n output columns needs. */
export function matmulPackFloats(k: i32, n: i32): i32 {
  const kc = min(k, KC);
  const nc = (min(n, NC) + 7) & ~7;
  return kc * nc;
}

/** C (m x n) = A (m x k) · B (k x n). */
export function matmul(c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, pack: usize): void {
  gemm(c, a, b, m, k, n, false, 0, 0, pack, false);
}

/** C (m x n) = A (m x k) · Bᵀ, B stored n x k (X·Xᵀ with b = a). */
export function matmulNT(c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, pack: usize): void {
  gemm(c, a, b, m, k, n, true, 0, 0, pack, false);
}

/**
 * C (m x m) = A (m x k) · op(B) for a product the caller knows is symmetric bit for bit: X·Xᵀ
 * (b = a, transB), or S·S with S symmetric (each pair of mirrored sums has the same products in
 * the same order). The SIMD path computes the tiles that touch the upper triangle and mirrors them,
 * about half the work; the scalar path computes every element (the same bits).
 */
export function matmulSym(c: usize, a: usize, b: usize, m: i32, k: i32, transB: bool, pack: usize): void {
  gemm(c, a, b, m, k, m, transB, 0, 0, pack, true);
}

/** C = s·D + A·B elementwise after the product: C[i][j] = f32(s * D[i][j]) + (A·B)[i][j]. d != 0. */
export function matmulAdd(c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, d: usize, s: f32, pack: usize): void {
  gemm(c, a, b, m, k, n, false, d, s, pack, false);
}

/** dst (cols x rows) = srcᵀ, src rows x cols. */
export function transpose(dst: usize, src: usize, rows: i32, cols: i32): void {
  // 8x8 tiles keep both sides in cache lines; the order of copies does not affect the values.
  for (let i0 = 0; i0 < rows; i0 += 8) {
    const i1 = min(i0 + 8, rows);
    for (let j0 = 0; j0 < cols; j0 += 8) {
      const j1 = min(j0 + 8, cols);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) {
          store<f32>(dst + ((<usize>j * rows + i) << 2), load<f32>(src + ((<usize>i * cols + j) << 2)));
        }
      }
    }
  }
}

function gemm(c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, transB: bool, d: usize, s: f32, pack: usize, sym: bool): void {
  if (m <= 0 || n <= 0) return;
  if (!useSimd) {
    gemmScalar(c, a, b, m, k, n, transB, d, s);
    return;
  }
  if (k <= 0) {
    finishEmpty(c, m, n, d, s);
    return;
  }
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const panels = (nc + 7) >> 3;
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      packB(pack, b, k, n, pc, kc, jc, nc, transB);
      const first = pc == 0;
      const last = pc + kc == k;
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        for (let p = 0; p < panels; p++) {
          const j = jc + (p << 3);
          const cols = min(8, n - j);
          const bp = pack + ((<usize>p * kc) << 5);
          let i = ic;
          const iEnd = ic + mc;
          // Symmetric: skip tiles whose every column lies left of their first row (mirrored below).
          if (sym && j + 8 <= i) continue;
          for (; i + 4 <= iEnd; i += 4) {
            if (sym && j + 8 <= i) break;
            tile4(c, a, bp, i, j, cols, k, n, pc, kc, first, last, d, s);
          }
          for (; i < iEnd; i++) {
            if (sym && j + 8 <= i) break;
            tile1(c, a, bp, i, j, cols, k, n, pc, kc, first, last, d, s);
          }
        }
      }
    }
  }
  if (sym) mirrorUpper(c, n);
}

/** C[i][j] = C[j][i] for j < i. */
function mirrorUpper(c: usize, n: i32): void {
  for (let i = 1; i < n; i++) {
    const row = c + ((<usize>i * n) << 2);
    for (let j = 0; j < i; j++) store<f32>(row + (<usize>j << 2), load<f32>(c + ((<usize>j * n + i) << 2)));
  }
}

/** Packs rows pc..pc+kc, columns jc..jc+nc of op(B) into 8-column panels, zero-padded. */
function packB(pack: usize, b: usize, k: i32, n: i32, pc: i32, kc: i32, jc: i32, nc: i32, transB: bool): void {
  const panels = (nc + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const j0 = jc + (p << 3);
    const w = min(8, jc + nc - j0);
    const dst = pack + ((<usize>p * kc) << 5);
    if (!transB && w == 8) {
      for (let kk = 0; kk < kc; kk++) {
        const src = b + ((<usize>(pc + kk) * n + j0) << 2);
        const o = dst + (<usize>kk << 5);
        v128.store(o, v128.load(src));
        v128.store(o + 16, v128.load(src + 16));
      }
      continue;
    }
    for (let kk = 0; kk < kc; kk++) {
      const o = dst + (<usize>kk << 5);
      for (let jj = 0; jj < 8; jj++) {
        let v: f32 = 0;
        if (jj < w) {
          const col = j0 + jj;
          v = transB ? load<f32>(b + ((<usize>col * k + pc + kk) << 2)) : load<f32>(b + ((<usize>(pc + kk) * n + col) << 2));
        }
        store<f32>(o + (<usize>jj << 2), v);
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function loadAcc(p: usize, cols: i32, first: bool): v128 {
  if (first) return f32x4.splat(0);
  if (cols >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  if (cols > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (cols > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (cols > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

// @ts-ignore: decorator
@inline
function epilogue(acc: v128, dp: usize, cols: i32, d: usize, vs: v128): v128 {
  if (d == 0 || cols <= 0) return acc;
  let dv: v128;
  if (cols >= 4) dv = v128.load(dp);
  else {
    dv = f32x4.splat(0);
    dv = f32x4.replace_lane(dv, 0, load<f32>(dp));
    if (cols > 1) dv = f32x4.replace_lane(dv, 1, load<f32>(dp, 4));
    if (cols > 2) dv = f32x4.replace_lane(dv, 2, load<f32>(dp, 8));
  }
  return f32x4.add(f32x4.mul(vs, dv), acc);
}

// @ts-ignore: decorator
@inline
function storeAcc(p: usize, acc: v128, cols: i32): void {
  if (cols >= 4) {
    v128.store(p, acc);
    return;
  }
  if (cols > 0) store<f32>(p, f32x4.extract_lane(acc, 0));
  if (cols > 1) store<f32>(p, f32x4.extract_lane(acc, 1), 4);
  if (cols > 2) store<f32>(p, f32x4.extract_lane(acc, 2), 8);
}

/** Rows i..i+3, columns j..j+cols-1 (cols <= 8): the k block pc..pc+kc added to C. */
function tile4(c: usize, a: usize, bp: usize, i: i32, j: i32, cols: i32, k: i32, n: i32, pc: i32, kc: i32, first: bool, last: bool, d: usize, s: f32): void {
  const rowC = <usize>n << 2;
  const c0 = c + ((<usize>i * n + j) << 2);
  const c1 = c0 + rowC;
  const c2 = c1 + rowC;
  const c3 = c2 + rowC;
  const colsHi = cols - 4;
  let x00 = loadAcc(c0, cols, first);
  let x01 = loadAcc(c0 + 16, colsHi, first);
  let x10 = loadAcc(c1, cols, first);
  let x11 = loadAcc(c1 + 16, colsHi, first);
  let x20 = loadAcc(c2, cols, first);
  let x21 = loadAcc(c2 + 16, colsHi, first);
  let x30 = loadAcc(c3, cols, first);
  let x31 = loadAcc(c3 + 16, colsHi, first);
  const rowA = <usize>k << 2;
  let a0 = a + ((<usize>i * k + pc) << 2);
  let a1 = a0 + rowA;
  let a2 = a1 + rowA;
  let a3 = a2 + rowA;
  let bq = bp;
  const bEnd = bp + (<usize>kc << 5);
  while (bq < bEnd) {
    const b0 = v128.load(bq);
    const b1 = v128.load(bq, 16);
    const v0 = v128.load32_splat(a0);
    x00 = f32x4.add(x00, f32x4.mul(v0, b0));
    x01 = f32x4.add(x01, f32x4.mul(v0, b1));
    const v1 = v128.load32_splat(a1);
    x10 = f32x4.add(x10, f32x4.mul(v1, b0));
    x11 = f32x4.add(x11, f32x4.mul(v1, b1));
    const v2 = v128.load32_splat(a2);
    x20 = f32x4.add(x20, f32x4.mul(v2, b0));
    x21 = f32x4.add(x21, f32x4.mul(v2, b1));
    const v3 = v128.load32_splat(a3);
    x30 = f32x4.add(x30, f32x4.mul(v3, b0));
    x31 = f32x4.add(x31, f32x4.mul(v3, b1));
    a0 += 4;
    a1 += 4;
    a2 += 4;
    a3 += 4;
    bq += 32;
  }
  if (last && d != 0) {
    const vs = f32x4.splat(s);
    const off = c0 - c;
    x00 = epilogue(x00, d + off, cols, d, vs);
    x01 = epilogue(x01, d + off + 16, colsHi, d, vs);
    x10 = epilogue(x10, d + off + rowC, cols, d, vs);
    x11 = epilogue(x11, d + off + rowC + 16, colsHi, d, vs);
    x20 = epilogue(x20, d + off + 2 * rowC, cols, d, vs);
    x21 = epilogue(x21, d + off + 2 * rowC + 16, colsHi, d, vs);
    x30 = epilogue(x30, d + off + 3 * rowC, cols, d, vs);
    x31 = epilogue(x31, d + off + 3 * rowC + 16, colsHi, d, vs);
  }
  storeAcc(c0, x00, cols);
  storeAcc(c0 + 16, x01, colsHi);
  storeAcc(c1, x10, cols);
  storeAcc(c1 + 16, x11, colsHi);
  storeAcc(c2, x20, cols);
  storeAcc(c2 + 16, x21, colsHi);
  storeAcc(c3, x30, cols);
  storeAcc(c3 + 16, x31, colsHi);
}

/** One row of tile4 (the rows left over when m is not a multiple of 4). */
function tile1(c: usize, a: usize, bp: usize, i: i32, j: i32, cols: i32, k: i32, n: i32, pc: i32, kc: i32, first: bool, last: bool, d: usize, s: f32): void {
  const c0 = c + ((<usize>i * n + j) << 2);
  const colsHi = cols - 4;
  let x0 = loadAcc(c0, cols, first);
  let x1 = loadAcc(c0 + 16, colsHi, first);
  let a0 = a + ((<usize>i * k + pc) << 2);
  let bq = bp;
  const bEnd = bp + (<usize>kc << 5);
  while (bq < bEnd) {
    const v0 = v128.load32_splat(a0);
    x0 = f32x4.add(x0, f32x4.mul(v0, v128.load(bq)));
    x1 = f32x4.add(x1, f32x4.mul(v0, v128.load(bq, 16)));
    a0 += 4;
    bq += 32;
  }
  if (last && d != 0) {
    const vs = f32x4.splat(s);
    const off = c0 - c;
    x0 = epilogue(x0, d + off, cols, d, vs);
    x1 = epilogue(x1, d + off + 16, colsHi, d, vs);
  }
  storeAcc(c0, x0, cols);
  storeAcc(c0 + 16, x1, colsHi);
}

/** k = 0: every sum is +0 (then the epilogue). */
function finishEmpty(c: usize, m: i32, n: i32, d: usize, s: f32): void {
  const total = <usize>m * n;
  for (let e: usize = 0; e < total; e++) {
    const acc: f32 = 0;
    store<f32>(c + (e << 2), d != 0 ? s * load<f32>(d + (e << 2)) + acc : acc);
  }
}

/** The reference order without SIMD: C[i][j] = sum over k in order (then the epilogue). */
function gemmScalar(c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, transB: bool, d: usize, s: f32): void {
  for (let i = 0; i < m; i++) {
    const ci = c + ((<usize>i * n) << 2);
    for (let j = 0; j < n; j++) store<f32>(ci + (<usize>j << 2), 0);
    for (let kk = 0; kk < k; kk++) {
      const av = load<f32>(a + ((<usize>i * k + kk) << 2));
      for (let j = 0; j < n; j++) {
        const bv = transB ? load<f32>(b + ((<usize>j * k + kk) << 2)) : load<f32>(b + ((<usize>kk * n + j) << 2));
        const o = ci + (<usize>j << 2);
        store<f32>(o, load<f32>(o) + av * bv);
      }
    }
    if (d != 0) {
      const di = d + ((<usize>i * n) << 2);
      for (let j = 0; j < n; j++) {
        const o = <usize>j << 2;
        store<f32>(ci + o, s * load<f32>(di + o) + load<f32>(ci + o));
      }
    }
  }
}
