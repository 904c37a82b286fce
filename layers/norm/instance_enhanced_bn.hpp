// Instance-Enhancement Batch Normalization (Liang et al. 2020): BatchNorm whose per-channel
// scale is modulated per sample by a gate computed from the sample's own channel mean:
//   xhat = BatchNorm without affine (batch statistics in training, running ones in eval)
//   a_{n,c} = sigmoid(w_c GAP(x)_{n,c} + b_c)      GAP = mean over (H, W) of the *input* x
//   y = gamma_c a_{n,c} xhat + beta_c
// w starts at 0 and b at -1, so the gate starts at sigmoid(-1) = 0.269 for every sample.
// xhat comes from the shared core (hand-derived BatchNorm backward), the modulation
// gamma_c a_{n,c} xhat + beta_c from plane_affine (hand-derived); only the gate itself, a few
// (N, C)-sized values, is built from autograd ops. docs/norms/iebn.md.
#pragma once
#include "layers/norm/batch_norm.hpp"

namespace nl {

class InstanceEnhancedBatchNorm : public Module {
 public:
  explicit InstanceEnhancedBatchNorm(int64_t num_features, BatchNormOptions batch = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "InstanceEnhancedBatchNorm"; }

  int64_t num_features;
  std::shared_ptr<BatchNorm> bn;  // affine = false
  Tensor weight, bias, gate_weight, gate_bias;
};

}  // namespace nl
