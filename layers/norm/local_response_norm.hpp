// Local Response Normalization (Krizhevsky et al. 2012), PyTorch's nn.LocalResponseNorm:
//   D_c = k + (alpha / n) sum_{c' in W(c)} x_{c'}^2,     y_c = x_c D_c^(-beta)
// per sample and position, W(c) = [c - n/2, c + (n-1)/2] clipped to the channels. Channels
// outside count as zeros and the divisor stays n at the edges (PyTorch's avg-pool formulation).
// No parameters, no statistics: the same in train and eval.
//
// Backward (j ranges over the channels whose window contains i):
//   dx_i = dy_i D_i^(-beta) - (2 alpha beta / n) x_i sum_{c: i in W(c)} dy_c x_c D_c^(-beta-1)
// docs/norms/lrn.md.
#pragma once
#include "layers/module.hpp"

namespace nl {

class LocalResponseNorm : public Module {
 public:
  explicit LocalResponseNorm(int64_t size, double alpha = 1e-4, double beta = 0.75, double k = 1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LocalResponseNorm"; }

  int64_t size;
  double alpha, beta, k;
};

// The functional form (x: (N, C, ...)).
Tensor local_response_norm(const Tensor& x, int64_t size, double alpha = 1e-4, double beta = 0.75,
                           double k = 1);

}  // namespace nl
