#include "layers/norm/evo_norm.hpp"

#include "autograd/ops.hpp"
#include "layers/norm/plane_norm.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {
namespace {

void check_input(const Tensor& x, int64_t c, const char* name) {
  check(x.dim() == 4 && x.shape()[1] == c, name, "expected input (N, ", c, ", H, W), got ",
        shape_str(x.shape()));
}

}  // namespace

EvoNormB0::EvoNormB0(int64_t c, double eps_, double momentum_)
    : num_features(c), eps(eps_), momentum(momentum_) {
  check(c > 0, "EvoNormB0", "num_features must be positive, got ", c);
  check(eps_ > 0, "EvoNormB0", "eps must be > 0");
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
  v = register_parameter("v", Tensor::ones({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
}

Tensor EvoNormB0::forward(const Tensor& x) {
  check_input(x, num_features, "EvoNormB0");
  const Shape per_channel{1, num_features, 1, 1};
  Tensor batch_var;
  if (training_) {
    const int64_t m = x.numel() / num_features;
    check(m > 1, "EvoNormB0", "expected more than 1 value per channel when training, got input ",
          shape_str(x.shape()));
    batch_var = var(x, {0, 2, 3}, false);
    std::vector<double> unbiased = batch_var.to_vector();
    for (double& u : unbiased) u *= double(m) / double(m - 1);
    update_running(running_var, unbiased, momentum, 0);
  } else {
    batch_var = running_var;
  }
  const Tensor batch_scale = sqrt(add(batch_var.view(per_channel), eps));
  const Tensor instance_scale = sqrt(add(var(x, {2, 3}, false, true), eps));
  const Tensor right = add(mul(x, v.view(per_channel)), instance_scale);
  // maximum() sends the gradient to its first argument on ties; the instance side is the one
  // that depends on x elementwise, so it goes first.
  const Tensor y = div(x, maximum(right, batch_scale));
  return add(mul(y, weight.view(per_channel)), bias.view(per_channel));
}

EvoNormS0::EvoNormS0(int64_t c, int64_t g, double eps_) : num_features(c), groups(g), eps(eps_) {
  check(g >= 1 && c % g == 0, "EvoNormS0", "groups=", g, " must divide num_features=", c);
  check(eps_ > 0, "EvoNormS0", "eps must be > 0");
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
  v = register_parameter("v", Tensor::ones({c}));
}

Tensor EvoNormS0::forward(const Tensor& x) {
  check_input(x, num_features, "EvoNormS0");
  const Shape per_channel{1, num_features, 1, 1};
  const StatLayout layout = StatLayout::of(x, groups, 1, "EvoNormS0");
  // x / sqrt(var_group + eps): the core's variance-only path (centred variance, x not centred).
  const Tensor scaled =
      plane_norm(x, Tensor(), Tensor(), layout, eps, nullptr, "EvoNormS0", {.subtract_mean = false})
          .y;
  const Tensor gate = sigmoid(mul(x, v.view(per_channel)));
  return add(mul(mul(scaled, gate), weight.view(per_channel)), bias.view(per_channel));
}

}  // namespace nl
