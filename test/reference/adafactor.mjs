// Adafactor (Keras 3). G = g^2 + eps1, b = 1 - t^beta2Decay, rho = min(lr, 1/sqrt(t)),
// alpha = max(eps2, RMS(w)) * rho. Rank < 2: v = b v + (1-b) G. Rank >= 2, per leading batch,
// over the last two axes [R, C]: r = b r + (1-b) mean_C(G), c = b c + (1-b) mean_R(G),
// v = (r / mean(r))[:, None] * c[None, :]. u = g / sqrt(v); w -= alpha * u / max(1, RMS(u) / clip).
// The factored slots r ([..., R]) and c ([..., C]) are created here on first use, with their own sizes.
const rms = (x) => Math.sqrt(x.reduce((a, y) => a + y * y, 0) / x.length);

export const adafactor = {
  defaults: { learningRate: 0.001, beta2Decay: -0.8, epsilon1: 1e-30, epsilon2: 1e-3, clipThreshold: 1, relativeStep: true },
  slots: (o, shape) => (shape.length >= 2 ? {} : { v: 0 }),
  update(g, w, s, lr, t, o, gl, shape) {
    const n = w.length;
    const rho = Math.min(lr, 1 / Math.sqrt(t));
    const alpha = Math.max(o.epsilon2, rms(w)) * rho;
    const b = 1 - t ** o.beta2Decay;
    const G = g.map((x) => x * x + o.epsilon1);
    const v = new Float64Array(n);
    if (shape.length >= 2) {
      const C = shape[shape.length - 1];
      const R = shape[shape.length - 2];
      const B = n / (R * C);
      s.r ??= new Float64Array(B * R);
      s.c ??= new Float64Array(B * C);
      for (let bi = 0; bi < B; bi++) {
        for (let i = 0; i < R; i++) {
          let mean = 0;
          for (let j = 0; j < C; j++) mean += G[(bi * R + i) * C + j] / C;
          s.r[bi * R + i] = b * s.r[bi * R + i] + (1 - b) * mean;
        }
        for (let j = 0; j < C; j++) {
          let mean = 0;
          for (let i = 0; i < R; i++) mean += G[(bi * R + i) * C + j] / R;
          s.c[bi * C + j] = b * s.c[bi * C + j] + (1 - b) * mean;
        }
        let rMean = 0;
        for (let i = 0; i < R; i++) rMean += s.r[bi * R + i] / R;
        for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) v[(bi * R + i) * C + j] = (s.r[bi * R + i] / rMean) * s.c[bi * C + j];
      }
    } else {
      for (let i = 0; i < n; i++) v[i] = s.v[i] = b * s.v[i] + (1 - b) * G[i];
    }
    const u = g.map((x, i) => x / Math.sqrt(v[i]));
    const scale = alpha / Math.max(1, rms(u) / o.clipThreshold);
    for (let i = 0; i < n; i++) w[i] -= scale * u[i];
  },
};
