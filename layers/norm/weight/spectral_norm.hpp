// Spectral Normalization (Miyato et al. 2018), PyTorch's spectral_norm semantics:
//   W_SN = W / sigma(W),   sigma estimated by power iteration on W viewed as (C_out, F):
//   v <- normalize(W^T u),  u <- normalize(W v)   (n_power_iterations times, training only)
//   sigma = u^T W v
// u and v are buffers (saved in checkpoints); eval reuses them without updating.
//
// Backward, with u and v treated as constants (as PyTorch does): d sigma / dW = u v^T, so
//   dW = dW_SN / sigma - (sum(dW_SN * W) / sigma^2) u v^T
// docs/norms/weight-norms.md.
#pragma once
#include "layers/module.hpp"

namespace nl {

class SpectralNorm : public Module {
 public:
  SpectralNorm(const Tensor& raw, int n_power_iterations = 1, double eps = 1e-12);
  Tensor forward(const Tensor& raw) override;
  std::string type_name() const override { return "SpectralNorm"; }

  int n_power_iterations;
  double eps;
  Tensor u, v;  // (C_out), (F)

 private:
};

}  // namespace nl
