// Matrix products written from the definition, row-major. `round` is applied after every
// multiply and add: the identity gives the float64 reference; Math.fround emulates float32
// arithmetic in the order assembly/matmul.ts documents (each element summed over k in increasing
// order from +0, then the optional epilogue s*D + sum), which the kernel must match bit for bit.

const exact = (x) => x;

/**
 * C (m x n) = A (m x k) · op(B), op(B) = B (k x n) or, with transB, Bᵀ of B stored n x k.
 * With `d` (m x n): C = s*D + A·op(B).
 */
export function matmulRef(A, B, m, k, n, { transB = false, d = null, s = 0, round = exact, out = Float64Array } = {}) {
  const Bk = transB ? transposeRef(Float64Array.from(B), n, k) : B; // k x n
  const C = new out(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    // Row by row, k outer and j inner: each element still adds its terms in increasing k order.
    for (let kk = 0; kk < k; kk++) {
      const a = A[i * k + kk];
      const o = kk * n;
      if (round === exact) for (let j = 0; j < n; j++) row[j] += a * Bk[o + j];
      else for (let j = 0; j < n; j++) row[j] = round(row[j] + round(a * Bk[o + j]));
    }
    for (let j = 0; j < n; j++) C[i * n + j] = d ? round(round(s * d[i * n + j]) + row[j]) : row[j];
  }
  return C;
}

/** Xᵀ (cols x rows) of X (rows x cols). */
export function transposeRef(X, rows, cols) {
  const out = new X.constructor(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = X[i * cols + j];
  return out;
}
