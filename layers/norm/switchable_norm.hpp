// Switchable Normalization (Luo et al. 2019): learns, per layer, how much of InstanceNorm,
// LayerNorm and BatchNorm statistics to use. From the per-(n, c) instance moments over (H, W),
//   mu_in, var_in                                  (var_in unbiased, as in the reference code)
//   mu_ln = mean_c mu_in,  var_ln = mean_c (var_in + mu_in^2) - mu_ln^2
//   mu_bn = mean_n mu_in,  var_bn = mean_n (var_in + mu_in^2) - mu_bn^2   (running ones in eval)
//   mu  = sum_k softmax(mean_weight)_k mu_k,   var = sum_k softmax(var_weight)_k var_k
//   y = gamma_c (x - mu) / sqrt(var + eps) + beta_c
// Running statistics blend mu_bn and var_bn with PyTorch's momentum convention (the reference
// code's 0.997 "keep" factor is momentum = 0.003 here) starting from 0 and 1.
//
// Statistics from the shared core (instance moments per plane); the backward is hand-derived
// (switchable_norm.cpp, docs/norms/switch.md) and ends in the core's per-plane apply pass.
#pragma once
#include "layers/module.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

struct SwitchableNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool unbiased_instance_var = true;  // the reference implementation's torch.var default
  bool affine = true;
};

class SwitchableNorm : public Module {
 public:
  explicit SwitchableNorm(int64_t num_features, SwitchableNormOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SwitchableNorm"; }
  // The current softmax importance of (IN, LN, BN) for the mean and for the variance.
  std::vector<double> mean_importance() const;
  std::vector<double> var_importance() const;

  int64_t num_features;
  SwitchableNormOptions options;
  Tensor weight, bias, mean_weight, var_weight;
  RunningStats running;
};

}  // namespace nl
