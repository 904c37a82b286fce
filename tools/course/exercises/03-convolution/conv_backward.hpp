// Exercise 3.1: the backward of a convolution computed as im2col + matrix product.
//
// Given (below, read them first): im2col, matmul_add and conv2d_forward, the same algorithm as
// normlab's fast path (layers/conv/im2col.hpp) written as plain loops over float64 arrays.
//   x: (N, C, H, W)   w: (K, C, kh, kw)   b: (K)   y: (N, K, OH, OW)
//   per image: cols = im2col(x_n) (C kh kw, OH OW),  Y_n (K, OH OW) = W (K, C kh kw) @ cols + b
//
// Write, in conv_backward.cpp:
//   col2im(s, cols)            the adjoint of im2col: an image (C, H, W) in which every entry of
//                              cols (C kh kw, OH OW) is added onto the pixel im2col read it from
//                              (entries that im2col took from the zero padding are dropped).
//                              Adjoint means <im2col(x), c> = <x, col2im(c)> for all x and c.
//   conv2d_backward(s, x, w, dy) -> {dx, dw, db}, from dL/dy (N, K, OH, OW):
//                              dW = sum over images of dY_n @ cols_n^T,  db = sum of dY over
//                              images and positions,  dx_n = col2im(W^T @ dY_n).
//
// Graded (ctest -R conv_backward): col2im is the adjoint of im2col on overlapping, strided and
// dilated geometries; dx, dw and db equal normlab's Conv2d gradients; your backward against
// central differences of conv2d_forward (float64 gradcheck).
#pragma once
#include <cstdint>
#include <vector>

namespace course {

struct ConvShape {
  int64_t n, c, h, w;  // input
  int64_t k, kh, kw;   // output channels, kernel size
  int64_t stride = 1, pad = 0, dilation = 1;
  int64_t out_h() const { return (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1; }
  int64_t col_rows() const { return c * kh * kw; }
  int64_t positions() const { return out_h() * out_w(); }
};

// --- given ---------------------------------------------------------------------------------

// One image (C, H, W) -> cols (C kh kw, OH OW): row (c, i, j), column (oy, ox) holds
// x[c, oy stride - pad + i dilation, ox stride - pad + j dilation], or 0 outside the image.
inline std::vector<double> im2col(const ConvShape& s, const double* image) {
  std::vector<double> cols(s.col_rows() * s.positions(), 0.0);
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j)
        for (int64_t oy = 0; oy < s.out_h(); ++oy)
          for (int64_t ox = 0; ox < s.out_w(); ++ox) {
            const int64_t y = oy * s.stride - s.pad + i * s.dilation;
            const int64_t x = ox * s.stride - s.pad + j * s.dilation;
            if (y < 0 || y >= s.h || x < 0 || x >= s.w) continue;
            const int64_t row = (c * s.kh + i) * s.kw + j, col = oy * s.out_w() + ox;
            cols[row * s.positions() + col] = image[(c * s.h + y) * s.w + x];
          }
  return cols;
}

// C (m, n) += A (m, k) @ B (k, n); A is read as (k, m) transposed when a_t, B as (n, k) when b_t.
inline void matmul_add(const double* a, bool a_t, const double* b, bool b_t, double* c, int64_t m,
                       int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += (a_t ? a[p * m + i] : a[i * k + p]) * (b_t ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] += sum;
    }
}

inline std::vector<double> conv2d_forward(const ConvShape& s, const std::vector<double>& x,
                                          const std::vector<double>& w,
                                          const std::vector<double>& b) {
  std::vector<double> y(s.n * s.k * s.positions(), 0.0);
  for (int64_t n = 0; n < s.n; ++n) {
    const std::vector<double> cols = im2col(s, x.data() + n * s.c * s.h * s.w);
    double* y_n = y.data() + n * s.k * s.positions();
    matmul_add(w.data(), false, cols.data(), false, y_n, s.k, s.col_rows(), s.positions());
    for (int64_t k = 0; k < s.k; ++k)
      for (int64_t p = 0; p < s.positions(); ++p) y_n[k * s.positions() + p] += b[k];
  }
  return y;
}

// --- to write --------------------------------------------------------------------------------

std::vector<double> col2im(const ConvShape& s, const std::vector<double>& cols);

struct ConvGrads {
  std::vector<double> dx, dw, db;  // (N, C, H, W), (K, C, kh, kw), (K)
};
ConvGrads conv2d_backward(const ConvShape& s, const std::vector<double>& x,
                          const std::vector<double>& w, const std::vector<double>& dy);

}  // namespace course
