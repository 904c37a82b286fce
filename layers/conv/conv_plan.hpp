// The plan of one convolution: its shape, and which algorithm computes it (the policy):
//   Winograd where it applies (3x3, stride 1, padding 1, dilation 1, groups 1, at least 8
//   channels in and out): F(4x4) when both channel counts are multiples of 16 and the map is at
//   least 4x4, else F(2x2); a forced algorithm that does not fit is an error naming why;
//   im2col + GEMM for every other shape, with a direct GEMM for 1x1 stride-1 convolutions.
// The block of images per GEMM depends on the shape only, never on the thread count, so the
// results are bit-identical for any --threads.
#pragma once
#include "layers/conv/conv2d.hpp"
#include "layers/conv/im2col.hpp"
#include "layers/conv/winograd.hpp"

namespace nl {

struct ConvPlan {
  int64_t n, c_in, h, w, c_out, out_h, out_w, groups;
  ConvGeometry g;    // per group
  bool direct;       // 1x1, stride 1, no padding: the image already is the column matrix
  bool winograd;     // 3x3, stride 1, padding 1: Winograd instead of im2col
  bool winograd_f4;  // F(4x4, 3x3) rather than F(2x2, 3x3)
  int64_t block;     // images per GEMM (and per dW partial sum)
};

// Checks the shapes and options (errors name the op and the shapes) and picks the algorithm.
ConvPlan plan_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o);

WinogradShape winograd_shape(const ConvPlan& s);

}  // namespace nl
