// Proxy Normalization (Labatie et al. 2021, "Proxy-Normalizing Activations to Match Batch
// Normalization while Removing Batch Dependence"): LayerNorm or GroupNorm *without* its affine,
// then "PN-Act", which replaces affine + ReLU. Per channel c:
//   y    = GN(x)                                   (no affine; LN = one group)
//   z    = relu(gamma_c y + beta_c)
//   Y~   = (1 + gamma'_c) u + beta'_c,  u_i = Phi^-1((i + 1/2) / n), i < n   (fixed N(0,1)
//                                                                             quantiles)
//   P_i  = relu(gamma_c Y~_i + beta_c)              (the proxy's post-activation)
//   out  = (z - mean_i P) / sqrt(var_i P + proxy_eps)          (var biased)
// The proxy is what one channel would look like if its pre-activation were Gaussian; dividing
// its moments out keeps each channel centred and of unit power after the activation, the way
// BatchNorm would, without any batch statistics (same in train and eval).
// Defaults follow Graphcore's implementation: n = 200 quantiles, proxy_eps = 0.03, gamma', beta'
// initialised to 0, and weight decay applied to gamma', beta' only (gamma, beta are excluded).
// The backward of PN-Act is hand-derived (docs/norms/pn.md); the GN/LN part reuses the core's.
#pragma once
#include <memory>
#include <vector>

#include "layers/module.hpp"

namespace nl {

struct ProxyNormOptions {
  int64_t groups = 1;  // 1 = LayerNorm (pn:ln), else GroupNorm (pn:gn=G)
  double eps = 1e-5;   // of the LayerNorm/GroupNorm
  double proxy_eps = 0.03;
  int64_t samples = 200;  // Gaussian quantiles in the proxy
};

class ProxyNorm : public Module {
 public:
  ProxyNorm(int64_t num_channels, const ProxyNormOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ProxyNorm"; }
  std::string describe() const override;
  // gamma GN(x) + beta, what the ReLU inside PN-Act sees (probes measure it).
  Tensor pre_activation(const Tensor& x);

  int64_t num_channels;
  ProxyNormOptions options;
  ModulePtr norm;                                 // GroupNorm(groups, C, affine = false)
  Tensor weight, bias, proxy_weight, proxy_bias;  // gamma, beta, gamma', beta'  [C]
  std::vector<double> quantiles;                  // u_i
};

// PN-Act on an already normalized y (N, C, ...): differentiable in y, gamma, beta, gamma', beta'.
Tensor proxy_norm_act(const Tensor& y, const Tensor& gamma, const Tensor& beta,
                      const Tensor& proxy_gamma, const Tensor& proxy_beta,
                      const std::vector<double>& quantiles, double proxy_eps);

// u_i = Phi^-1((i + 1/2) / n) = sqrt(2) erfinv(2 (i + 1/2) / n - 1), i = 0 .. n-1.
std::vector<double> normal_quantiles(int64_t n);

}  // namespace nl
