#include "layers/norm/rms_norm.hpp"

#include "layers/norm/affine.hpp"
#include "layers/norm/plane_norm.hpp"
#include "layers/norm/registry.hpp"

namespace nl {

RMSNorm::RMSNorm(int64_t c, double eps_, bool affine) : num_channels(c), eps(eps_) {
  check(c > 0, "RMSNorm", "num_channels must be positive, got ", c);
  check(eps_ > 0, "RMSNorm", "eps must be > 0 (mean x^2 is 0 for an all-zero sample)");
  weight = register_affine(*this, c, affine, /*with_bias=*/false).first;
}

Tensor RMSNorm::forward(const Tensor& x) {
  check(x.dim() >= 2 && x.shape()[1] == num_channels, "RMSNorm", "expected ", num_channels,
        " channels, got input ", shape_str(x.shape()));
  const StatLayout layout = StatLayout::of(x, 1, 1, "RMSNorm");
  const NormMath second_moment{.subtract_mean = false, .center_variance = false};
  return plane_norm(x, weight, Tensor(), layout, eps, nullptr, "RMSNorm", second_moment).y;
}

NORMLAB_NORM(rms) {
  return {.name = "rms",
          .family = NormFamily::sample,
          .summary =
              "RMSNorm: per sample x / sqrt(mean_{C,H,W} x^2 + eps), per-channel gain, no "
              "bias",
          .options = {NormOption::number("eps", 1e-6, kEps, "added to the mean square"),
                      NormOption::flag("affine", true, "learned per-channel gain")},
          .build = [](const NormArgs& a, int64_t c) {
            return NormSlot{std::make_shared<RMSNorm>(c, a.number("eps"), a.flag("affine"))};
          }};
}

}  // namespace nl
