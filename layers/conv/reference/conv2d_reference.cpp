#include "layers/conv/reference/conv2d_reference.hpp"

#include <algorithm>

namespace nl::reference {
namespace {

// C (m, n) += A (m, k) @ B (k, n), with A or B read transposed when asked: the three products
// of the convolution in one plain triple loop.
void matmul_add(const double* a, bool a_transposed, const double* b, bool b_transposed, double* c,
                int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += (a_transposed ? a[p * m + i] : a[i * k + p]) *
             (b_transposed ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] += s;
    }
}

// Calls visit(entry, pixel) for every column-matrix entry (row (c, i, j), column (oy, ox)) that
// reads an input pixel; entries that fall on the zero padding are skipped. im2col and col2im
// walk the same pairs in opposite directions: that is what makes them adjoint.
template <typename Visit>
void for_each_tap(const ConvShape& s, Visit visit) {
  const int64_t positions = s.out_h() * s.out_w();
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j)
        for (int64_t oy = 0; oy < s.out_h(); ++oy)
          for (int64_t ox = 0; ox < s.out_w(); ++ox) {
            const int64_t y = oy * s.stride - s.pad + i * s.dilation;
            const int64_t x = ox * s.stride - s.pad + j * s.dilation;
            if (y < 0 || y >= s.h || x < 0 || x >= s.w) continue;
            const int64_t row = (c * s.kh + i) * s.kw + j, col = oy * s.out_w() + ox;
            visit(row * positions + col, (c * s.h + y) * s.w + x);
          }
}

}  // namespace

std::vector<double> im2col(const ConvShape& s, const double* image) {
  std::vector<double> cols(s.c * s.kh * s.kw * s.out_h() * s.out_w(), 0.0);
  for_each_tap(s, [&](int64_t entry, int64_t pixel) { cols[entry] = image[pixel]; });
  return cols;
}

std::vector<double> col2im(const ConvShape& s, const std::vector<double>& cols) {
  std::vector<double> image(s.c * s.h * s.w, 0.0);
  // +=, not =: with stride < kernel one pixel feeds several output positions.
  for_each_tap(s, [&](int64_t entry, int64_t pixel) { image[pixel] += cols[entry]; });
  return image;
}

std::vector<double> conv2d_forward(const ConvShape& s, const std::vector<double>& x,
                                   const std::vector<double>& w, const std::vector<double>& b) {
  const int64_t positions = s.out_h() * s.out_w(), rows = s.c * s.kh * s.kw;
  std::vector<double> y(s.n * s.k * positions, 0.0);
  for (int64_t n = 0; n < s.n; ++n) {
    const std::vector<double> cols = im2col(s, x.data() + n * s.c * s.h * s.w);
    double* y_n = y.data() + n * s.k * positions;
    // Y (K, OH OW) = W (K, C kh kw) @ cols (C kh kw, OH OW)
    matmul_add(w.data(), false, cols.data(), false, y_n, s.k, rows, positions);
    if (!b.empty())
      for (int64_t k = 0; k < s.k; ++k)
        for (int64_t p = 0; p < positions; ++p) y_n[k * positions + p] += b[k];
  }
  return y;
}

ConvBackward conv2d_backward(const ConvShape& s, const std::vector<double>& x,
                             const std::vector<double>& w, const std::vector<double>& dy) {
  const int64_t positions = s.out_h() * s.out_w(), rows = s.c * s.kh * s.kw;
  const int64_t image_size = s.c * s.h * s.w;
  ConvBackward g{std::vector<double>(x.size(), 0.0), std::vector<double>(w.size(), 0.0),
                 std::vector<double>(s.k, 0.0)};
  for (int64_t n = 0; n < s.n; ++n) {
    const std::vector<double> cols = im2col(s, x.data() + n * image_size);
    const double* dy_n = dy.data() + n * s.k * positions;
    // db[k] = sum over images and positions of dY[k, :]
    for (int64_t k = 0; k < s.k; ++k)
      for (int64_t p = 0; p < positions; ++p) g.db[k] += dy_n[k * positions + p];
    // dW (K, C kh kw) += dY (K, OH OW) @ cols^T (OH OW, C kh kw): summed over the images
    matmul_add(dy_n, false, cols.data(), true, g.dw.data(), s.k, positions, rows);
    // dcols (C kh kw, OH OW) = W^T (C kh kw, K) @ dY (K, OH OW), then back onto the pixels
    std::vector<double> dcols(rows * positions, 0.0);
    matmul_add(w.data(), true, dy_n, false, dcols.data(), rows, s.k, positions);
    const std::vector<double> dx_n = col2im(s, dcols);
    std::copy(dx_n.begin(), dx_n.end(), g.dx.begin() + n * image_size);
  }
  return g;
}

}  // namespace nl::reference
