// Cross-Iteration Batch Normalization (Yao, Cao, Zheng, Huang & Lin, CVPR 2021; conventions of
// the authors' mmdetection code, Howal/Cross-iterationBatchNorm CBN.py). BatchNorm whose
// statistics pool the current batch with the last k iterations' batches. The old statistics
// were computed with old weights W_tau of the convolution feeding the layer, so each is first
// carried to the current weights W_t by a first-order Taylor step:
//   mu_tau(W_t) ~ mu_tau + rho <dmu_tau/dW, W_t - W_tau>      (per output channel c)
//   nu_tau(W_t) ~ nu_tau + rho <dnu_tau/dW, W_t - W_tau>      nu = E[y^2]
// then, per channel, over the K_c entries (the current one, and each old one whose compensated
// variance nu - mu^2 is >= 0):
//   mu = mean mu_tau(W_t),  var = mean nu_tau(W_t) - mu^2,  y = gamma (x - mu)/sqrt(var + eps) +
//   beta
// Only the current batch's statistics carry gradient (the old ones are constants; window_grad
// also differentiates their Taylor terms w.r.t. the current conv weight). During the
// first `burnin` training iterations the window is empty (plain BatchNorm). Running statistics
// come from the uncompensated current batch (unbiased variance), as in BatchNorm; eval uses
// them.
//
// The layer needs the convolution before it: the models bind it (bind_conv, through the
// factory's NormSlot::bind); unbound, training throws. The window lives in buffers
// (history_*), so it is saved in checkpoints. docs/norms/cbn.md has the backward.
#pragma once
#include <memory>
#include <optional>

#include "layers/module.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

class Conv2d;

struct CrossIterationBNOptions {
  int64_t window = 3;  // past iterations kept (the authors' buffer_num)
  int64_t burnin = 8;  // training iterations before the window is used
  double rho = 1;      // weight of the Taylor compensation
  double eps = 1e-5;
  bool eps_outside = false;  // authors' default: (x - mu) / (sqrt(var) + eps)
  std::optional<double> momentum = 0.1;
  bool affine = true;
  // The authors' gradient treats the compensated window entries as constants. With window_grad
  // the gradient also flows through their Taylor terms, which are linear in the current conv
  // weight, into that weight: the exact derivative of the forward (docs/norms/cbn.md).
  bool window_grad = false;
};

class CrossIterationBatchNorm : public Module {
 public:
  CrossIterationBatchNorm(int64_t num_features, const CrossIterationBNOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "CrossIterationBatchNorm"; }
  std::string describe() const override;

  // Binds the convolution that produces this layer's input: records its input on every forward
  // and sizes the history buffers to its weight. Throws unless `conv` is a Conv2d with
  // num_features output channels.
  void bind_conv(const ModulePtr& conv);

  int64_t num_features;
  CrossIterationBNOptions options;
  // false: forward neither advances the window nor the running statistics (lets a gradient
  // check evaluate the layer repeatedly in one state).
  bool record_statistics = true;
  Tensor weight, bias;
  RunningStats running;
  // The window, oldest first: history_size entries of the conv weight, mean, E[y^2] and their
  // Jacobians w.r.t. the weight (rows per output channel).
  Tensor history_weight, history_mean, history_sq, history_dmean, history_dsq, history_size;

 private:
  std::weak_ptr<Conv2d> conv_;
  std::shared_ptr<Tensor> conv_input_;  // shared with the conv's forward hook
};

}  // namespace nl
