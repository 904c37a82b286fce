// 2-D convolution (cross-correlation, as in PyTorch) by im2col + GEMM, or for 3x3 kernels with
// stride 1 and padding 1 by Winograd F(4x4, 3x3) or F(2x2, 3x3) (layers/conv/winograd.hpp; 4x
// or 2.25x fewer multiplications; forward, input gradient and weight gradient).
//
//   x: (N, C_in, H, W)   weight: (C_out, C_in/groups, kh, kw)   bias: (C_out) or undefined
//   out: (N, C_out, OH, OW),  OH = (H + 2*pad - dil*(kh-1) - 1) / stride + 1
//
// Forward, per image and group:  Y = W @ im2col(X)          (+ bias per row)
// Backward, per image and group: dW += dY @ im2col(X)^T,  dX = col2im(W^T @ dY),  db = sum dY
// Images are spread over TBB tasks; dW is summed per fixed chunk of images and the chunks added
// in order, so results are bit-identical whatever the thread count.
// Files: conv_plan.cpp picks the algorithm, im2col_gemm.cpp and winograd*.cpp compute it, this
// file's conv2d records the op for autograd; reference/conv2d_reference.cpp is the readable
// version the tests check them against.
#pragma once
#include <array>

#include "layers/module.hpp"

namespace nl {

// automatic: Winograd where it applies (3x3, stride 1, padding 1, dilation 1, groups 1, at least
// 8 channels in and out): F(4x4) when both channel counts are multiples of 16 and the map is at
// least 4x4, else F(2x2); im2col for every other shape. The others force one algorithm (tests
// compare them; the Winograd ones throw where they do not apply).
enum class ConvAlgorithm { automatic, im2col, winograd_2x2, winograd_4x4 };

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  ConvAlgorithm algorithm = ConvAlgorithm::automatic;
};

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt);

// relu?(conv2d(x, weight, bias) + residual), the residual (the output's shape) optional. When no
// gradient is recorded (NoGradGuard, or no input requiring one) the add and the ReLU run in the
// convolution's epilogue, on each output plane as it is written, instead of two more passes over
// the output (what inference engines fuse); otherwise the three ops are recorded one by one. The
// results are the same to the bit either way.
Tensor conv2d_fused(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Conv2dOptions& opt, const Tensor& residual, bool relu);

// dL/dW of conv2d(x, W) for a given dL/dout = dy, without running the forward: the weight half of
// the backward alone (Cross-Iteration BN differentiates its statistics w.r.t. the weight).
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& dy, const Shape& weight_shape,
                          const Conv2dOptions& opt);

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
         int64_t padding = 0, bool bias = true, int64_t groups = 1, int64_t dilation = 1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string describe() const override;
  // Uses W = normalizer(weight) from now on (Weight Norm, Weight Standardization, ...); the
  // normalizer becomes the child "weight_norm" and its parameters part of this layer's.
  void attach_weight_normalizer(ModulePtr normalizer);
  // The weight the convolution applies: weight, or normalizer(weight).
  Tensor effective_weight() const;

  Tensor weight, bias;
  ModulePtr weight_norm;
  int64_t in_channels, out_channels, kernel_size;
  Conv2dOptions options;
};

}  // namespace nl
