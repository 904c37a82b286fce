// The readable reference of the convolution: im2col, a plain matrix product and col2im, forward
// and backward as loops over float64 arrays. Slow on purpose; the test suite uses it as the
// oracle of the fast paths (layers/conv/im2col.cpp's blocked GEMMs, Winograd F(2x2) and
// F(4x4)), and docs/conv2d.md shows it before explaining how the fast kernels differ.
//
// Cross-correlation, as in PyTorch, one group:
//   x: (N, C, H, W)   w: (K, C, kh, kw)   b: (K)   y: (N, K, OH, OW)
//   OH = (H + 2 pad - dil (kh - 1) - 1) / stride + 1   (OW likewise)
//   y[n, k, oy, ox] = b[k] + sum_{c, i, j} w[k, c, i, j] x[n, c, oy s - pad + i d, ox s - pad + j
//   d]
// with x = 0 outside the image. For one image, im2col gathers the receptive fields into the
// columns of cols (C kh kw, OH OW), so the convolution is one matrix product:
//   Y (K, OH OW) = W (K, C kh kw) @ cols
// and its backward is two more:
//   dW += dY @ cols^T       dcols = W^T @ dY       dx = col2im(dcols)
// col2im is im2col's adjoint: every column entry is added back onto the pixel it was read from.
#pragma once
#include <cstdint>
#include <vector>

namespace nl::reference {

struct ConvShape {
  int64_t n, c, h, w;  // input
  int64_t k, kh, kw;   // output channels and kernel size
  int64_t stride = 1, pad = 0, dilation = 1;
  int64_t out_h() const { return (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1; }
};

// One image (C, H, W) -> cols (C kh kw, OH OW).
std::vector<double> im2col(const ConvShape& s, const double* image);
// cols (C kh kw, OH OW) -> one image (C, H, W), summing the entries that read the same pixel.
std::vector<double> col2im(const ConvShape& s, const std::vector<double>& cols);

// y (N, K, OH, OW); `b` may be empty (no bias).
std::vector<double> conv2d_forward(const ConvShape& s, const std::vector<double>& x,
                                   const std::vector<double>& w, const std::vector<double>& b);

struct ConvBackward {
  std::vector<double> dx, dw, db;  // (N, C, H, W), (K, C, kh, kw), (K)
};
ConvBackward conv2d_backward(const ConvShape& s, const std::vector<double>& x,
                             const std::vector<double>& w, const std::vector<double>& dy);

}  // namespace nl::reference
