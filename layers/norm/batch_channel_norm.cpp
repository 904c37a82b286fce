#include "layers/norm/batch_channel_norm.hpp"

#include "autograd/ops.hpp"

namespace nl {

BatchChannelNorm::BatchChannelNorm(int64_t c, int64_t g, BatchNormOptions batch, double eps)
    : num_channels(c), num_groups(g) {
  check(g >= 1 && c % g == 0, "BatchChannelNorm", "num_groups=", g,
        " must divide num_channels=", c);
  bn = register_module("bn", std::make_shared<BatchNorm>(c, batch));
  gn = register_module("gn", std::make_shared<GroupNorm>(g, c, eps, false));
  weight = register_parameter("weight", Tensor::ones({g}));
  bias = register_parameter("bias", Tensor::zeros({g}));
}

Tensor BatchChannelNorm::forward(const Tensor& x) {
  check(x.dim() >= 2 && x.shape()[1] == num_channels, "BatchChannelNorm", "expected ", num_channels,
        " channels, got input ", shape_str(x.shape()));
  const Tensor u = (*gn)((*bn)(x));
  // (N, G, rest) so the (G)-sized affine broadcasts over each group's channels and positions.
  const Tensor grouped = u.reshape({x.shape()[0], num_groups, -1});
  const Tensor y =
      add(mul(grouped, weight.view({1, num_groups, 1})), bias.view({1, num_groups, 1}));
  return y.reshape(x.shape());
}

}  // namespace nl
