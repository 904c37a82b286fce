#include "layers/norm/filter_response_norm.hpp"

#include "autograd/ops.hpp"
#include "layers/norm/plane_norm.hpp"

namespace nl {

FilterResponseNorm::FilterResponseNorm(int64_t c, double eps_, bool tlu)
    : num_features(c), eps(eps_) {
  check(c > 0, "FilterResponseNorm", "num_features must be positive, got ", c);
  check(eps_ > 0, "FilterResponseNorm", "eps must be > 0 (nu2 can be 0 for a constant map)");
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
  if (tlu) tau = register_parameter("tau", Tensor::zeros({c}));
}

Tensor FilterResponseNorm::forward(const Tensor& x) {
  const char* name = "FilterResponseNorm";
  check(x.dim() == 4 && x.shape()[1] == num_features, name, "expected input (N, ", num_features,
        ", H, W), got ", shape_str(x.shape()));
  const StatLayout layout = StatLayout::of(x, num_features, 1, name);
  const NormMath second_moment{.subtract_mean = false, .center_variance = false};
  Tensor y = plane_norm(x, weight, bias, layout, eps, nullptr, name, second_moment).y;
  if (!tau.defined()) return y;
  return maximum(y, tau.view({1, num_features, 1, 1}));
}

}  // namespace nl
