#include "layers/norm/filter_response_norm.hpp"

#include "autograd/ops.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_norm.hpp"
#include "layers/norm/registry.hpp"

namespace nl {

FilterResponseNorm::FilterResponseNorm(int64_t c, double eps_, bool tlu, bool learned_eps)
    : num_features(c), eps(eps_) {
  check(c > 0, "FilterResponseNorm", "num_features must be positive, got ", c);
  check(eps_ > 0, "FilterResponseNorm", "eps must be > 0 (nu2 can be 0 for a constant map)");
  std::tie(weight, bias) = register_affine(*this, c);
  if (tlu) tau = register_parameter("tau", Tensor::zeros({c}));
  if (learned_eps) eps_learned = register_parameter("eps_learned", Tensor::full({1}, 1e-4));
}

Tensor FilterResponseNorm::forward(const Tensor& x) {
  const char* name = "FilterResponseNorm";
  check(x.dim() == 4 && x.shape()[1] == num_features, name, "expected input (N, ", num_features,
        ", H, W), got ", shape_str(x.shape()));
  Tensor y;
  if (eps_learned.defined()) {
    // y = gamma x / sqrt(mean_HW x^2 + eps + |eps_learned|) + beta
    const Shape per_channel{1, num_features, 1, 1};
    const Tensor nu2 = mean(square(x), {2, 3}, true);
    const Tensor denom = sqrt(add(add(nu2, abs(eps_learned)), eps));
    y = add(mul(div(x, denom), weight.view(per_channel)), bias.view(per_channel));
  } else {
    const StatLayout layout = StatLayout::of(x, num_features, 1, name);
    const NormMath second_moment{.subtract_mean = false, .center_variance = false};
    y = plane_norm(x, weight, bias, layout, eps, nullptr, name, second_moment).y;
  }
  if (!tau.defined()) return y;
  return maximum(y, tau.view({1, num_features, 1, 1}));
}

NORMLAB_NORM(frn) {
  return {.name = "frn",
          .family = NormFamily::sample,
          .summary =
              "Filter Response Norm + TLU: x / sqrt(mean_HW x^2 + eps), then max(y, tau); "
              "replaces the activation",
          .options = {NormOption::number("eps", 1e-6, kEps, "added to the mean square"),
                      NormOption::flag("tlu", true, "the thresholded linear unit max(y, tau)"),
                      NormOption::flag("learned_eps", false, "eps + |learned eps|, as the paper")},
          .build = [](const NormArgs& a, int64_t c) {
            // Where no activation follows (the last norm of a residual branch, a shortcut) the
            // slot normalizes only, as timm's norm-act layers with apply_act=False: the block's
            // ReLU comes after the residual add. evob0 and evos0 do the same.
            const bool tlu = a.flag("tlu") && a.activation_follows;
            return NormSlot{std::make_shared<FilterResponseNorm>(c, a.number("eps"), tlu,
                                                                 a.flag("learned_eps")),
                            tlu};
          }};
}

}  // namespace nl
