#include "layers/norm/instance_norm.hpp"

#include "layers/norm/affine.hpp"
#include "layers/norm/plane_norm.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

InstanceNorm2d::InstanceNorm2d(int64_t c, InstanceNormOptions o) : num_features(c), options(o) {
  check(c > 0, "InstanceNorm2d", "num_features must be positive, got ", c);
  std::tie(weight, bias) = register_affine(*this, c, o.affine);
  if (o.track_running_stats) running = RunningStats::register_on(*this, c);
}

Tensor InstanceNorm2d::forward(const Tensor& x) {
  const char* name = "InstanceNorm2d";
  check(x.dim() == 4 && x.shape()[1] == num_features, name, "expected input (N, ", num_features,
        ", H, W), got ", shape_str(x.shape()));
  const StatLayout layout = StatLayout::of(x, num_features, 1, name);
  if (!training_ && running.tracking()) {
    // Running statistics are per channel; expand them to every (n, c) instance.
    const auto rm = running.mean.to_vector(), rv = running.var.to_vector();
    Moments fixed;
    for (int64_t n = 0; n < layout.n; ++n)
      for (int64_t c = 0; c < layout.c; ++c)
        fixed.mean.push_back(rm[c]), fixed.var.push_back(rv[c]);
    return plane_norm(x, weight, bias, layout, options.eps, &fixed, name).y;
  }
  check(layout.l > 1, name,
        "expected more than 1 spatial element per channel when training, got "
        "input ",
        shape_str(x.shape()));
  PlaneNormOutput out = plane_norm(x, weight, bias, layout, options.eps, nullptr, name);
  if (training_ && running.tracking()) {
    // The batch average of the instances' means and variances (PyTorch's), each variance over
    // the L values of one plane: unbiased with L / (L - 1).
    std::vector<double> mean(layout.c, 0.0), var(layout.c, 0.0);
    for (int64_t n = 0; n < layout.n; ++n)
      for (int64_t c = 0; c < layout.c; ++c) {
        mean[c] += out.batch.mean[n * layout.c + c] / double(layout.n);
        var[c] += out.batch.var[n * layout.c + c] / double(layout.n);
      }
    running.update(mean, var, double(layout.l), options.momentum);
  }
  return out.y;
}

NORMLAB_NORM(in) {
  const InstanceNormOptions d;
  return {.name = "in",
          .family = NormFamily::sample,
          .summary =
              "InstanceNorm: per sample and channel over (H,W); affine on by default in "
              "models",
          .options = {NormOption::number("eps", d.eps, kEps, "added to the variance"),
                      NormOption::flag("affine", true,
                                       "learned per-channel gamma and beta (PyTorch's class "
                                       "defaults to false)"),
                      NormOption::flag("track_running_stats", d.track_running_stats,
                                       "keep running statistics and use them in eval"),
                      NormOption::number("momentum", *d.momentum, kUnit,
                                         "running <- (1 - m) running + m batch")},
          .build = [](const NormArgs& a, int64_t c) {
            InstanceNormOptions o;
            o.eps = a.number("eps");
            o.affine = a.flag("affine");
            o.track_running_stats = a.flag("track_running_stats");
            o.momentum = a.number("momentum");
            return NormSlot{std::make_shared<InstanceNorm2d>(c, o)};
          }};
}

}  // namespace nl
