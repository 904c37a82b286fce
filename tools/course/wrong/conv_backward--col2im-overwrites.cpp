// Hidden wrong implementation: col2im assigns instead of adding, so a pixel read by several
// output positions keeps only the last one's gradient.
// Must fail "col2im is the adjoint of im2col".
#include "conv_backward.hpp"

#include <algorithm>

namespace course {

std::vector<double> col2im(const ConvShape& s, const std::vector<double>& cols) {
  std::vector<double> image(s.c * s.h * s.w, 0.0);
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j)
        for (int64_t oy = 0; oy < s.out_h(); ++oy)
          for (int64_t ox = 0; ox < s.out_w(); ++ox) {
            const int64_t y = oy * s.stride - s.pad + i * s.dilation;
            const int64_t x = ox * s.stride - s.pad + j * s.dilation;
            if (y < 0 || y >= s.h || x < 0 || x >= s.w) continue;
            const int64_t row = (c * s.kh + i) * s.kw + j, col = oy * s.out_w() + ox;
            image[(c * s.h + y) * s.w + x] = cols[row * s.positions() + col];
          }
  return image;
}

ConvGrads conv2d_backward(const ConvShape& s, const std::vector<double>& x,
                          const std::vector<double>& w, const std::vector<double>& dy) {
  const int64_t image = s.c * s.h * s.w, out = s.k * s.positions();
  ConvGrads g{std::vector<double>(x.size(), 0.0), std::vector<double>(w.size(), 0.0),
              std::vector<double>(s.k, 0.0)};
  for (int64_t n = 0; n < s.n; ++n) {
    const std::vector<double> cols = im2col(s, x.data() + n * image);
    const double* dy_n = dy.data() + n * out;
    for (int64_t k = 0; k < s.k; ++k)
      for (int64_t p = 0; p < s.positions(); ++p) g.db[k] += dy_n[k * s.positions() + p];
    // dW (K, C kh kw) += dY_n (K, OH OW) @ cols^T (OH OW, C kh kw)
    matmul_add(dy_n, false, cols.data(), true, g.dw.data(), s.k, s.positions(), s.col_rows());
    // dcols (C kh kw, OH OW) = W^T (C kh kw, K) @ dY_n (K, OH OW)
    std::vector<double> dcols(s.col_rows() * s.positions(), 0.0);
    matmul_add(w.data(), true, dy_n, false, dcols.data(), s.col_rows(), s.k, s.positions());
    const std::vector<double> dx_n = col2im(s, dcols);
    std::copy(dx_n.begin(), dx_n.end(), g.dx.begin() + n * image);
  }
  return g;
}

}  // namespace course
