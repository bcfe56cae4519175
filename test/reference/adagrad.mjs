// Adagrad (Keras 3): the accumulator starts at initialAccumulatorValue; epsilon inside the sqrt.
export const adagrad = {
  defaults: { learningRate: 0.001, initialAccumulatorValue: 0.1, epsilon: 1e-7 },
  slots: (o) => ({ accumulator: o.initialAccumulatorValue }),
  update(g, w, s, lr, t, o) {
    for (let i = 0; i < w.length; i++) {
      s.accumulator[i] += g[i] * g[i];
      w[i] -= (lr * g[i]) / Math.sqrt(s.accumulator[i] + o.epsilon);
    }
  },
};
