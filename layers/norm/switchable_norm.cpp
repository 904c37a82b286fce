#include "layers/norm/switchable_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_stats.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {
namespace {

// softmax of a 3-vector, as differentiable ops, returned entry by entry.
std::vector<Tensor> softmax3(const Tensor& w) {
  const Tensor e = exp(sub(w, max(w).detach()));
  const Tensor p = div(e, sum(e));
  return {p.narrow(0, 0, 1), p.narrow(0, 1, 1), p.narrow(0, 2, 1)};
}

std::vector<double> importance(const Tensor& w) {
  NoGradGuard no_grad;
  std::vector<double> out;
  for (const Tensor& p : softmax3(w)) out.push_back(p.item());
  return out;
}

}  // namespace

SwitchableNorm::SwitchableNorm(int64_t c, SwitchableNormOptions o) : num_features(c), options(o) {
  check(c > 0, "SwitchableNorm", "num_features must be positive, got ", c);
  check(o.eps > 0, "SwitchableNorm", "eps must be > 0");
  std::tie(weight, bias) = register_affine(*this, c, o.affine);
  mean_weight = register_parameter("mean_weight", Tensor::ones({3}));
  var_weight = register_parameter("var_weight", Tensor::ones({3}));
  running = RunningStats::register_on(*this, c);
}

std::vector<double> SwitchableNorm::mean_importance() const {
  return importance(mean_weight);
}
std::vector<double> SwitchableNorm::var_importance() const {
  return importance(var_weight);
}

// Backward (docs/norms/switch.md derives it). Per plane p = (n, c), with s = (var + eps)^(-1/2)
// and dxhat = gamma dy, the gradients reaching the mixed statistics are
//   dmu_p = -s sum dxhat,   dvar_p = -(s^3 / 2) sum dxhat (x - mu_p).
// They flow to the three statistic sets through the softmax weights w (mean) and u (var), and
// from the LN/BN sets back to the per-plane moments (their means over c or n). Everything ends
// on the instance moments mu_in and var_in, whose derivatives w.r.t. x are 1/L and
// 2 (x - mu_in) / L' (L' = L - 1 when unbiased), so per plane
//   dx = s gamma dy + b x + k,   b = 2 dvar_in / L',   k = dmu_in / L - b mu_in
// which is the shared core's apply pass. In eval the BN set is the running statistics: no
// gradient reaches x through it, but the mixing weights still see it.
Tensor SwitchableNorm::forward(const Tensor& x_in) {
  const char* name = "SwitchableNorm";
  check(x_in.dim() == 4 && x_in.shape()[1] == num_features, name, "expected input (N, ",
        num_features, ", H, W), got ", shape_str(x_in.shape()));
  const Tensor x = x_in.detach().contiguous();
  const int64_t n = x.shape()[0], c = num_features, l = x.shape()[2] * x.shape()[3];
  check(l > 1 || !options.unbiased_instance_var, name,
        "needs more than 1 spatial position for the unbiased instance variance, got input ",
        shape_str(x.shape()));
  if (weight.defined())
    check(weight.dtype() == x.dtype(), name, "input is ", x.str(), " but parameters are ",
          weight.str());
  const StatLayout planes = StatLayout::of(x, c, 1, name);  // one statistic per (n, c)
  const Moments in = compute_moments(planes, x);
  const double l_var = options.unbiased_instance_var ? double(l - 1) : double(l);
  std::vector<double> var_in(n * c), second(n * c);
  for (int64_t p = 0; p < n * c; ++p) {
    var_in[p] = in.var[p] * double(l) / l_var;
    second[p] = var_in[p] + in.mean[p] * in.mean[p];
  }
  std::vector<double> mean_ln(n, 0.0), var_ln(n, 0.0), mean_bn(c, 0.0), var_bn(c, 0.0);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t ch = 0; ch < c; ++ch) {
      mean_ln[s] += in.mean[s * c + ch] / double(c);
      var_ln[s] += second[s * c + ch] / double(c);
      mean_bn[ch] += in.mean[s * c + ch] / double(n);
      var_bn[ch] += second[s * c + ch] / double(n);
    }
  for (int64_t s = 0; s < n; ++s) var_ln[s] -= mean_ln[s] * mean_ln[s];
  const bool batch_stats = training_;
  if (batch_stats) {
    check(n > 1 || l > 1, name, "expected more than 1 value per channel when training");
    for (int64_t ch = 0; ch < c; ++ch) var_bn[ch] -= mean_bn[ch] * mean_bn[ch];
    // The reference code blends the biased batch variance: no M / (M - 1), hence not
    // running.update.
    const double tracked = running.num_batches_tracked.item() + 1;
    running.num_batches_tracked.fill_(tracked);
    update_running(running.mean, mean_bn, options.momentum, tracked);
    update_running(running.var, var_bn, options.momentum, tracked);
  } else {
    mean_bn = running.mean.to_vector();
    var_bn = running.var.to_vector();
  }
  const std::vector<double> wm = mean_importance(), wv = var_importance();
  const std::vector<double> g = affine_values(weight, c, 1.0);
  const std::vector<double> b = affine_values(bias, c, 0.0);
  std::vector<double> mu(n * c), inv_std(n * c), scale(n * c), shift(n * c);
  for (int64_t p = 0; p < n * c; ++p) {
    const int64_t s = p / c, ch = p % c;
    mu[p] = wm[0] * in.mean[p] + wm[1] * mean_ln[s] + wm[2] * mean_bn[ch];
    const double v = wv[0] * var_in[p] + wv[1] * var_ln[s] + wv[2] * var_bn[ch];
    inv_std[p] = 1.0 / std::sqrt(std::max(v, 0.0) + options.eps);
    scale[p] = inv_std[p] * g[ch];
    shift[p] = b[ch] - mu[p] * scale[p];
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  apply_planes(planes, x, Tensor(), scale, {}, shift, y);

  return record(y, name, {x_in, weight, bias, mean_weight, var_weight},
                [=, gamma = weight, dt = mean_weight.dtype()](const Tensor& gy) {
                  const Tensor dy = gy.contiguous();
                  const PlaneGradSums sums = plane_grad_sums(planes, x, dy, in.mean);
                  // Gradients reaching each plane's mixed mean and variance, and gamma/beta.
                  std::vector<double> d_mu(n * c), d_var(n * c), dgamma(c, 0.0), dbeta(c, 0.0);
                  for (int64_t p = 0; p < n * c; ++p) {
                    const int64_t ch = p % c;
                    // sum dy (x - mu_p) = sum dy (x - mu_in) + (mu_in - mu_p) sum dy
                    const double dy_xc = sums.sum_dy_xc[p] + (in.mean[p] - mu[p]) * sums.sum_dy[p];
                    const double s = inv_std[p];
                    d_mu[p] = -s * g[ch] * sums.sum_dy[p];
                    d_var[p] = -0.5 * s * s * s * g[ch] * dy_xc;
                    dgamma[ch] += s * dy_xc;
                    dbeta[ch] += sums.sum_dy[p];
                  }
                  // Through the softmax mixtures: to the mixing weights and to the three statistic
                  // sets.
                  double dwm[3] = {0, 0, 0}, dwv[3] = {0, 0, 0};
                  std::vector<double> d_mean_in(n * c), d_var_in(n * c);
                  std::vector<double> d_mean_ln(n, 0.0), d_var_ln(n, 0.0), d_mean_bn(c, 0.0),
                      d_var_bn(c, 0.0);
                  for (int64_t p = 0; p < n * c; ++p) {
                    const int64_t s = p / c, ch = p % c;
                    dwm[0] += d_mu[p] * in.mean[p], dwm[1] += d_mu[p] * mean_ln[s];
                    dwm[2] += d_mu[p] * mean_bn[ch];
                    dwv[0] += d_var[p] * var_in[p], dwv[1] += d_var[p] * var_ln[s];
                    dwv[2] += d_var[p] * var_bn[ch];
                    d_mean_in[p] = wm[0] * d_mu[p];
                    d_var_in[p] = wv[0] * d_var[p];
                    d_mean_ln[s] += wm[1] * d_mu[p], d_var_ln[s] += wv[1] * d_var[p];
                    d_mean_bn[ch] += wm[2] * d_mu[p], d_var_bn[ch] += wv[2] * d_var[p];
                  }
                  if (!batch_stats) {  // running statistics: constants
                    d_mean_bn.assign(c, 0.0);
                    d_var_bn.assign(c, 0.0);
                  }
                  // var_ln = mean_c second - mean_ln^2 and var_bn = mean_n second - mean_bn^2, with
                  // mean_ln = mean_c mu_in, mean_bn = mean_n mu_in and second = var_in + mu_in^2.
                  for (int64_t s = 0; s < n; ++s) d_mean_ln[s] -= 2 * mean_ln[s] * d_var_ln[s];
                  for (int64_t ch = 0; ch < c; ++ch)
                    d_mean_bn[ch] -= 2 * mean_bn[ch] * d_var_bn[ch];
                  std::vector<double> a(n * c), bx(n * c), k(n * c);
                  for (int64_t p = 0; p < n * c; ++p) {
                    const int64_t s = p / c, ch = p % c;
                    const double d_second = d_var_ln[s] / double(c) + d_var_bn[ch] / double(n);
                    const double dv_in = d_var_in[p] + d_second;
                    const double dm_in = d_mean_in[p] + d_mean_ln[s] / double(c) +
                                         d_mean_bn[ch] / double(n) + 2 * in.mean[p] * d_second;
                    a[p] = inv_std[p] * g[ch];
                    bx[p] = 2 * dv_in / l_var;
                    k[p] = dm_in / double(l) - bx[p] * in.mean[p];
                  }
                  // Softmax Jacobian: d w_j = p_j (g_j - sum_k p_k g_k).
                  auto through_softmax = [](const std::vector<double>& pr, const double* grad) {
                    const double dot = pr[0] * grad[0] + pr[1] * grad[1] + pr[2] * grad[2];
                    return std::vector<double>{pr[0] * (grad[0] - dot), pr[1] * (grad[1] - dot),
                                               pr[2] * (grad[2] - dot)};
                  };
                  std::vector<Tensor> grads =
                      plane_backward(planes, dy, x, a, bx, k, gamma, dgamma, dbeta);
                  if (!gamma.defined()) grads.resize(3);  // no gamma/beta: keep the input order
                  grads.push_back(Tensor::from_vector(through_softmax(wm, dwm), {3}, dt));
                  grads.push_back(Tensor::from_vector(through_softmax(wv, dwv), {3}, dt));
                  return grads;
                });
}

NORMLAB_NORM(switch) {
  const SwitchableNormOptions d;
  return {.name = "switch",
          .family = NormFamily::batch,
          .summary = "Switchable Normalization: learned softmax mix of IN, LN and BN statistics",
          .options = {NormOption::number("eps", d.eps, kEps, "added to the variance"),
                      NormOption::number("momentum", d.momentum, kUnit,
                                         "running <- (1 - m) running + m batch (BN part)"),
                      NormOption::flag("unbiased", d.unbiased_instance_var,
                                       "unbiased instance variance, as the reference code"),
                      NormOption::flag("affine", d.affine, "learned per-channel gamma and beta")},
          .build = [](const NormArgs& a, int64_t c) {
            SwitchableNormOptions o;
            o.eps = a.number("eps");
            o.momentum = a.number("momentum");
            o.unbiased_instance_var = a.flag("unbiased");
            o.affine = a.flag("affine");
            return NormSlot{std::make_shared<SwitchableNorm>(c, o)};
          }};
}

}  // namespace nl
