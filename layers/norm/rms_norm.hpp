// RMSNorm (Zhang & Sennrich 2019) for images: per sample over (C, H, W), no mean subtraction,
// per-channel gain and no bias (the image analogue of `ln`, as in PyTorch's nn.RMSNorm but with
// the per-channel rather than per-element weight):
//   y = gamma_c x / sqrt(mean_{C,H,W} x^2 + eps)
// Batch independent, same in train and eval. It is the shared core's LayerNorm layout with the
// uncentred second moment (NormMath{false, false}). docs/norms/rms.md.
#pragma once
#include "layers/module.hpp"

namespace nl {

class RMSNorm : public Module {
 public:
  // eps: PyTorch's default is the dtype's machine epsilon; 1e-6 (timm) is used here so float32
  // and float64 give the same layer.
  explicit RMSNorm(int64_t num_channels, double eps = 1e-6, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "RMSNorm"; }

  int64_t num_channels;
  double eps;
  Tensor weight;
};

}  // namespace nl
