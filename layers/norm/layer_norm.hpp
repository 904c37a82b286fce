// LayerNorm with PyTorch's nn.LayerNorm contract: statistics over the trailing dims given by
// `normalized_shape`, and an *elementwise* affine of that shape:
//   y = (x - mu) / sqrt(var + eps) * weight + bias,   mu, var (biased) over the last D dims
// For images, LayerNorm({C, H, W}) is the factory's `ln:elementwise`; the papers' image
// LayerNorm with a per-channel affine is `ln` (GroupNorm with one group), and the channels-only
// one is `ln2d`. docs/norms/ln.md compares the three.
//
// The normalization is the shared core's (x viewed as (outer, 1, inner): one statistic per
// row); the elementwise affine is a broadcast multiply-add whose backward (sums over the
// leading dims) autograd supplies.
#pragma once
#include "layers/module.hpp"

namespace nl {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string describe() const override;

  Shape normalized_shape;
  double eps;
  Tensor weight, bias;
};

}  // namespace nl
