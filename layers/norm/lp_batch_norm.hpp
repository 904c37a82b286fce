// Lp BatchNorm (Santurkar et al. 2018, "How Does Batch Normalization Help Optimization?", Sec. 3.3
// and App. B): BatchNorm whose scale is the average Lp deviation instead of the standard
// deviation. Per channel over (N, H, W), with xc = x - mu_B and M the element count:
//   p finite:  s = (mean |xc|^p + eps)^(1/p)        p = 2 is BatchNorm exactly
//   p = inf:   s = max |xc| + eps
//   y = gamma_c xc / s + beta_c
// Running statistics: running_mean as BatchNorm, running_scale <- (1-m) running_scale + m s
// (no bias correction: s is not a variance). Eval uses them: y = gamma (x - mu) / s + beta.
//
// Backward (docs/norms/lpbn.md). With g = gamma dy and phi(u) = |u|^(p-1) sign(u) for finite p
// (phi = sign(xc) at the arg max, 0 elsewhere, for p = inf, where M s^(p+1) reads s^2):
//   dx = g / s - mean(g) / s - K (phi(xc) - mean(phi)),   K = sum(g xc) / (M s^(p+1))
// which for p = 2 is BatchNorm's backward.
#pragma once
#include <limits>

#include "layers/module.hpp"

namespace nl {

struct LpBatchNormOptions {
  double p = 1;  // any p >= 1, or infinity
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
};

class LpBatchNorm : public Module {
 public:
  explicit LpBatchNorm(int64_t num_features, LpBatchNormOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LpBatchNorm"; }

  int64_t num_features;
  LpBatchNormOptions options;
  Tensor weight, bias, running_mean, running_scale, num_batches_tracked;
};

}  // namespace nl
