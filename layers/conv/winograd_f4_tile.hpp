// The 1-D maps of Winograd F(4x4, 3x3) (Lavin & Gray 2016):
//
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A,   d: 6x6 input tile, g: 3x3 filter, Y: 4x4 outputs
//
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
//
// 36 multiplications per 4x4 outputs (2.25 per output; F(2x2) needs 4, direct 9). A 2-D map
// X -> L X L^T applies the 1-D map to every row, then every column (apply_2d). T may be a scalar
// or a GCC vector of channels; constants are integers or exact binary fractions, so both mean
// the same arithmetic.
#pragma once

namespace nl::winograd {

struct F4x3 {
  static constexpr int m = 4, a = 6;
  // B^T d  (6 -> 6)
  template <typename T>
  static void data(const T* d, T* o) {
    const T s13 = d[3] - d[1] * 4, s24 = d[4] - d[2] * 4;  // rows 1 and 2 share these
    const T t13 = (d[3] - d[1]) * 2, t24 = d[4] - d[2];    // rows 3 and 4 share these
    o[0] = d[0] * 4 - d[2] * 5 + d[4];
    o[1] = s13 + s24, o[2] = s24 - s13;
    o[3] = t24 + t13, o[4] = t24 - t13;
    o[5] = d[1] * 4 - d[3] * 5 + d[5];
  }
  // G g  (3 -> 6)
  template <typename T>
  static void filter(const T* g, T* o) {
    const T even = g[0] + g[2];
    o[0] = g[0] * 0.25f;
    o[1] = -(even + g[1]) / 6, o[2] = -(even - g[1]) / 6;
    const T e = g[0] / 24 + g[2] / 6, odd = g[1] / 12;
    o[3] = e + odd, o[4] = e - odd;
    o[5] = g[2];
  }
  // A^T x  (6 -> 4)
  template <typename T>
  static void output(const T* x, T* o) {
    const T p12 = x[1] + x[2], m12 = x[1] - x[2], p34 = x[3] + x[4], m34 = x[3] - x[4];
    o[0] = x[0] + p12 + p34;
    o[1] = m12 + m34 * 2;
    o[2] = p12 + p34 * 4;
    o[3] = m12 + m34 * 8 + x[5];
  }
  // A y  (4 -> 6), the adjoint of `output`: output-gradient tiles for the weight gradient
  template <typename T>
  static void output_adj(const T* y, T* o) {
    const T pe = y[0] + y[2], po = y[1] + y[3];
    const T qe = y[0] + y[2] * 4, qo = y[1] * 2 + y[3] * 8;
    o[0] = y[0];
    o[1] = pe + po, o[2] = pe - po;
    o[3] = qe + qo, o[4] = qe - qo;
    o[5] = y[3];
  }
  // G^T u  (6 -> 3), the adjoint of `filter`: the weight gradient
  template <typename T>
  static void filter_adj(const T* u, T* o) {
    const T p12 = u[1] + u[2], m12 = u[1] - u[2], p34 = u[3] + u[4], m34 = u[3] - u[4];
    o[0] = u[0] * 0.25f - p12 / 6 + p34 / 24;
    o[1] = -m12 / 6 + m34 / 12;
    o[2] = -p12 / 6 + p34 / 6 + u[5];
  }
};

// out = L in L^T for the 1-D map f = L (I -> O): f on every row of `in`, then on every column.
template <int I, int O, typename F, typename T>
[[gnu::always_inline]] inline void apply_2d(F f, const T (&in)[I][I], T (&out)[O][O]) {
  T rows[I][O];
  for (int i = 0; i < I; ++i) f(in[i], rows[i]);
  for (int j = 0; j < O; ++j) {
    T col[I], res[O];
    for (int i = 0; i < I; ++i) col[i] = rows[i][j];
    f(col, res);
    for (int k = 0; k < O; ++k) out[k][j] = res[k];
  }
}

}  // namespace nl::winograd
