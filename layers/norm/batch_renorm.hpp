// Batch Renormalization (Ioffe 2017): BatchNorm whose training output is corrected towards the
// running statistics, so that train and eval compute the same function once r and d are
// inside their clipping range:
//   xhat = (x - mu_B) / sigma_B * r + d,           y = gamma_c xhat + beta_c
//   r = clip(sigma_B / sigma, 1/r_max, r_max),     d = clip((mu_B - mu) / sigma, -d_max, d_max)
// with sigma_B = sqrt(var_B + eps), sigma = sqrt(running_var + eps) (eps inside the root, the
// PyTorch convention; ludvb/batchrenorm adds it outside). r and d are stop-gradient constants.
// Eval is BatchNorm's eval. Running statistics follow BatchNorm (momentum, unbiased var).
//
// Warm-up (the paper's schedule, in steps t = num_batches_tracked): r_max and d_max stay at
// 1 and 0 (plain BatchNorm) until warmup_start, then rise linearly to their final values at
// r_ramp_end and d_ramp_end.
//
// Backward: with r, d constant the layer is BatchNorm with gamma' = gamma r and
// beta' = beta + gamma d, so the core's hand-derived BatchNorm backward gives dx, and
// dgamma = r sum(dy xhat_B) + d sum(dy) follows through the (C)-sized products.
// docs/norms/brn.md.
#pragma once
#include "layers/module.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

struct BatchRenormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  double r_max = 3, d_max = 5;
  double warmup_start = 5000, r_ramp_end = 40000, d_ramp_end = 25000;
};

class BatchRenorm : public Module {
 public:
  explicit BatchRenorm(int64_t num_features, BatchRenormOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchRenorm"; }
  // The clipping bounds in force at step t.
  double r_max_at(double t) const;
  double d_max_at(double t) const;

  int64_t num_features;
  BatchRenormOptions options;
  Tensor weight, bias;
  RunningStats running;
};

}  // namespace nl
