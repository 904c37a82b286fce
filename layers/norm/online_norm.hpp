// Online Normalization (Chiley et al. 2019, "Online Normalization for Training Neural
// Networks"; conventions of Cerebras' reference implementation). Batch-size independent: the
// samples of a batch are processed as a stream, in order, per channel c.
//
// Forward, sample t with per-sample moments mu_t, var_t over (H, W):
//   y_t   = (x_t - m) / sqrt(s2 + eps)                    using the statistics *before* t
//   s2   <- a s2 + (1 - a) var_t + a (1 - a) (mu_t - m)^2  (a = alpha_fwd = 0.999)
//   m    <- a m + (1 - a) mu_t
// then the affine gamma y + beta, then an error-checking mechanism against rare blow-ups:
// layer scaling (ecm=ls, the default: divide by the RMS over (C, H, W)), activation clamping
// (ecm=ac: clip to [-clamp, clamp]) or none.
//
// Backward is *not* the gradient of the forward: the streaming statistics are treated as
// constants, and two control variables u, v (per channel, EMA factor b = alpha_bkw = 0.99)
// remove the components of the gradient along y and along 1, which the true gradient of a
// normalizer does not have. For sample t, with g = gamma dL/dy:
//   g    <- g - (1 - b) v y_t;    v <- v + mean(g y_t)
//   dx_t  = g / sqrt(s2_t + eps) - (1 - b) u;    u <- u + mean(dx_t)
// gamma and beta get their true gradients. Eval normalizes with the current m, s2 and then
// backpropagates the plain derivative. Buffers: running_mean (m, init 0), running_var (s2,
// init 1), u, v (init 0). docs/norms/online.md.
#pragma once
#include <string>

#include "layers/module.hpp"

namespace nl {

struct OnlineNormOptions {
  double alpha_fwd = 0.999, alpha_bkw = 0.99;
  double eps = 1e-5;
  bool affine = true;
  std::string ecm = "ls";  // ls | ac | none
  double clamp = 5;        // ecm=ac
  double ls_eps = 1e-5;    // ecm=ls
};

class OnlineNorm : public Module {
 public:
  OnlineNorm(int64_t num_channels, const OnlineNormOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "OnlineNorm"; }
  std::string describe() const override;

  int64_t num_channels;
  OnlineNormOptions options;
  Tensor weight, bias;                               // gamma, beta [C]
  Tensor running_mean, running_var, u_ctrl, v_ctrl;  // [C]
  ModulePtr layer_scaling;                           // ecm=ls
};

}  // namespace nl
