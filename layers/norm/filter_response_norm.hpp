// Filter Response Normalization + Thresholded Linear Unit (Singh & Krishnan, CVPR 2020).
// Replaces a norm *and* its activation:
//   nu2 = mean over (H, W) of x^2           (per sample and channel, no mean subtraction)
//   y   = gamma_c x / sqrt(nu2 + eps) + beta_c
//   z   = max(y, tau_c)                     (TLU, learned threshold tau)
// Batch-independent, identical in train and eval. The normalization runs on the shared core
// (InstanceNorm's layout with the uncentred second moment); TLU is the `maximum` op.
// learned_eps (the paper's option for 1x1 maps): eps + |eps_learned|, a learned scalar
// initialised to 1e-4; that path is written with differentiable ops (the core takes eps as a
// constant), so autograd differentiates it.
// docs/norms/frn.md.
#pragma once
#include "layers/module.hpp"

namespace nl {

class FilterResponseNorm : public Module {
 public:
  explicit FilterResponseNorm(int64_t num_features, double eps = 1e-6, bool tlu = true,
                              bool learned_eps = false);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FilterResponseNorm"; }

  int64_t num_features;
  double eps;
  Tensor weight, bias, tau;  // tau undefined without TLU
  Tensor eps_learned;        // (1), with learned_eps
};

}  // namespace nl
