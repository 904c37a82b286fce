// Normalization over the channels at each position of an (N, C, H, W) map: one statistic per
// (n, h, w), per-channel affine. Three published layers share this axis set:
//   ln2d   LayerNorm2d (ConvNeXt; timm):   y = gamma_c (x - mu) / sqrt(var + eps) + beta_c
//   pono   Positional Normalization (Li et al. 2019): the same without affine
//   rms2d  RmsNorm2d (timm):                y = gamma_c x / sqrt(mean_c x^2 + eps)
// with mu and the biased var taken over C only. Batch independent, same in train and eval.
//
// The forward and backward are position_norm's (layers/norm/position_norm.hpp): the statistics
// read in place along the channel axis of the NCHW map; its oracle in the tests is the
// composite that views the map channels-last, a batch of N*H*W "samples" with C features, and
// runs plane_norm's LayerNorm layout. docs/norms/ln2d.md, docs/norms/pono.md.
#pragma once
#include "layers/module.hpp"
#include "layers/norm/plane_norm.hpp"

namespace nl {

struct LayerNorm2dOptions {
  double eps = 1e-6;  // timm's LayerNorm2d default (PyTorch's LayerNorm uses 1e-5)
  bool affine = true;
  bool bias = true;  // false for RmsNorm2d, which has no beta
  NormMath math;     // {false, false}: uncentred second moment (RmsNorm2d)
  const char* name = "LayerNorm2d";
};

class LayerNorm2d : public Module {
 public:
  explicit LayerNorm2d(int64_t num_channels, LayerNorm2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return options.name; }

  int64_t num_channels;
  LayerNorm2dOptions options;
  Tensor weight, bias;
};

inline LayerNorm2dOptions positional_norm_options(double eps = 1e-5) {
  return {.eps = eps, .affine = false, .bias = false, .math = {}, .name = "PositionalNorm"};
}
inline LayerNorm2dOptions rms_norm_2d_options(double eps = 1e-6, bool affine = true) {
  return {.eps = eps,
          .affine = affine,
          .bias = false,
          .math = {.subtract_mean = false, .center_variance = false},
          .name = "RmsNorm2d"};
}

}  // namespace nl
