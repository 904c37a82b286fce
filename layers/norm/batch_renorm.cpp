#include "layers/norm/batch_renorm.hpp"

#include <algorithm>
#include <cmath>

#include "autograd/ops.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_norm.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {
namespace {

// 0 before `start`, 1 from `end` on, linear in between.
double ramp(double t, double start, double end) {
  if (t < start) return 0;
  return end <= start ? 1.0 : std::min(1.0, (t - start) / (end - start));
}

}  // namespace

BatchRenorm::BatchRenorm(int64_t c, BatchRenormOptions o) : num_features(c), options(o) {
  const char* name = "BatchRenorm";
  check(c > 0, name, "num_features must be positive, got ", c);
  check(o.r_max >= 1, name, "r_max must be >= 1, got ", o.r_max);
  check(o.d_max >= 0, name, "d_max must be >= 0, got ", o.d_max);
  check(o.eps > 0, name, "eps must be > 0");
  std::tie(weight, bias) = register_affine(*this, c, o.affine);
  running = RunningStats::register_on(*this, c);
}

double BatchRenorm::r_max_at(double t) const {
  return 1 + (options.r_max - 1) * ramp(t, options.warmup_start, options.r_ramp_end);
}
double BatchRenorm::d_max_at(double t) const {
  return options.d_max * ramp(t, options.warmup_start, options.d_ramp_end);
}

Tensor BatchRenorm::forward(const Tensor& x) {
  const char* name = "BatchRenorm";
  check(x.dim() >= 2 && x.shape()[1] == num_features, name, "expected ", num_features,
        " channels, got input ", shape_str(x.shape()));
  const StatLayout layout = StatLayout::of(x, num_features, 0, name);
  const std::vector<double> mu = running.mean.to_vector(), var = running.var.to_vector();
  if (!training_) {
    const Moments fixed{mu, var};
    return plane_norm(x, weight, bias, layout, options.eps, &fixed, name).y;
  }
  check(layout.count() > 1, name,
        "expected more than 1 value per channel when training, got input ", shape_str(x.shape()));
  // The corrections need the batch statistics before the normalization runs; the core then
  // computes them once more (one extra read of x, the price of keeping one kernel).
  const Moments batch = compute_moments(layout, x.detach().contiguous());
  const double t = running.num_batches_tracked.item();
  const double r_max = r_max_at(t), d_max = d_max_at(t);
  std::vector<double> r(num_features), d(num_features);
  for (int64_t c = 0; c < num_features; ++c) {
    const double sigma_batch = std::sqrt(batch.var[c] + options.eps);
    const double sigma = std::sqrt(var[c] + options.eps);
    r[c] = std::clamp(sigma_batch / sigma, 1 / r_max, r_max);
    d[c] = std::clamp((batch.mean[c] - mu[c]) / sigma, -d_max, d_max);
  }
  const Tensor rt = Tensor::from_vector(r, {num_features}, x.dtype());
  const Tensor dt = Tensor::from_vector(d, {num_features}, x.dtype());
  const Tensor gamma = weight.defined() ? mul(weight, rt) : rt;
  const Tensor beta = weight.defined() ? add(bias, mul(weight, dt)) : dt;
  Tensor y = plane_norm(x, gamma, beta, layout, options.eps, nullptr, name).y;

  running.update(batch.mean, batch.var, double(layout.count()), options.momentum);
  return y;
}

NORMLAB_NORM(brn) {
  const BatchRenormOptions d;
  return {
      .name = "brn",
      .family = NormFamily::batch,
      .summary =
          "Batch Renormalization: BatchNorm corrected by clipped r, d towards the running "
          "stats",
      .options = {NormOption::number("r_max", d.r_max, Range{1, kInfinity, false, true},
                                     "final clip of r = sigma_batch / sigma_running"),
                  NormOption::number("d_max", d.d_max, kNonNegative,
                                     "final clip of d = (mu_batch - mu_running) / sigma_running"),
                  NormOption::number("warmup_start", d.warmup_start, kNonNegative,
                                     "training step at which the clips start to open"),
                  NormOption::number("r_ramp_end", d.r_ramp_end, kNonNegative,
                                     "step at which r reaches r_max"),
                  NormOption::number("d_ramp_end", d.d_ramp_end, kNonNegative,
                                     "step at which d reaches d_max"),
                  NormOption::number("eps", d.eps, kEps, "added to the variance"),
                  NormOption::number("momentum", d.momentum, kUnit,
                                     "running <- (1 - m) running + m batch"),
                  NormOption::flag("affine", d.affine, "learned per-channel gamma and beta")},
      .build =
          [](const NormArgs& a, int64_t c) {
            BatchRenormOptions o;
            o.r_max = a.number("r_max");
            o.d_max = a.number("d_max");
            o.warmup_start = a.number("warmup_start");
            o.r_ramp_end = a.number("r_ramp_end");
            o.d_ramp_end = a.number("d_ramp_end");
            o.eps = a.number("eps");
            o.momentum = a.number("momentum");
            o.affine = a.flag("affine");
            return NormSlot{std::make_shared<BatchRenorm>(c, o)};
          },
      .page = "",
      .example = "brn:r_max=1.5,d_max=0.5,warmup_start=0,r_ramp_end=0,d_ramp_end=0,momentum=0"};
}

}  // namespace nl
