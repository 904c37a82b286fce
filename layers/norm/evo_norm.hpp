// EvoNorm (Liu et al. 2020): normalization-activation layers found by architecture search. Each
// replaces a norm *and* the ReLU after it. timm's definitions and defaults:
//
//   evob0  EvoNorm-B0 (batch dependent):
//     y = gamma_c x / max(sqrt(var_B + eps), v_c x + sqrt(var_HW + eps)) + beta_c
//     var_B: per channel over (N, H, W), biased, in training; running_var (updated with the
//     unbiased batch variance, PyTorch momentum) in eval. var_HW: per sample and channel. eps=1e-3.
//   evos0  EvoNorm-S0 (batch independent):
//     y = gamma_c x sigmoid(v_c x) / sqrt(var_group + eps) + beta_c
//     var_group: per sample over each group of C/G channels and (H, W), biased; eps = 1e-5.
//     timm's default is G = 32; here G = 8 so that the 16-channel stage of ResNet-20 divides.
//
// S0 takes x / sqrt(var_group + eps) from the shared core (GroupNorm layout without mean
// subtraction: the hand-derived `vn` backward) and multiplies in the SiLU-like gate. B0's
// elementwise max between a batch and an instance scale has no closed normalize-affine form;
// it is written with differentiable ops (var, sqrt, maximum), whose backward autograd composes.
// docs/norms/evob0.md and docs/norms/evos0.md.
#pragma once
#include "layers/module.hpp"

namespace nl {

class EvoNormB0 : public Module {
 public:
  explicit EvoNormB0(int64_t num_features, double eps = 1e-3, double momentum = 0.1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "EvoNormB0"; }

  int64_t num_features;
  double eps, momentum;
  Tensor weight, bias, v, running_var;
};

class EvoNormS0 : public Module {
 public:
  EvoNormS0(int64_t num_features, int64_t groups = 8, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "EvoNormS0"; }

  int64_t num_features, groups;
  double eps;
  Tensor weight, bias, v;
};

}  // namespace nl
