// im2col turns convolution into one matrix product. For one image (C, H, W) and a kh x kw kernel,
// column matrix row (c, i, j) holds, for every output position (oy, ox), the input pixel
//   x[c, oy*stride - pad + i*dilation, ox*stride - pad + j*dilation]   (0 outside the image),
// so  out(Cout, OH*OW) = W(Cout, C*kh*kw) @ col(C*kh*kw, OH*OW).
// col2im is its adjoint: it adds each column entry back onto the pixel it was read from.
#pragma once
#include <cstdint>

namespace nl {

struct ConvGeometry {
  int64_t channels, height, width;  // input (per group)
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  int64_t out_h, out_w;
  int64_t col_rows() const { return channels * kernel_h * kernel_w; }
  int64_t col_cols() const { return out_h * out_w; }
};

// `ld` is the distance between column-matrix rows (col_cols() for one image; larger when several
// images sit side by side so one GEMM covers them all).
template <typename T>
void im2col(const T* image, const ConvGeometry& g, T* col, int64_t ld);
template <typename T>
void col2im_add(const T* col, const ConvGeometry& g, T* image, int64_t ld);

}  // namespace nl
