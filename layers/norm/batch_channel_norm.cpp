#include "layers/norm/batch_channel_norm.hpp"

#include "autograd/ops.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_affine.hpp"
#include "layers/norm/registry.hpp"

namespace nl {

BatchChannelNorm::BatchChannelNorm(int64_t c, int64_t g, BatchNormOptions batch, double eps)
    : num_channels(c), num_groups(g) {
  check(g >= 1 && c % g == 0, "BatchChannelNorm", "num_groups=", g,
        " must divide num_channels=", c);
  bn = register_module("bn", std::make_shared<BatchNorm>(c, batch));
  gn = register_module("gn", std::make_shared<GroupNorm>(g, c, eps, false));
  std::tie(weight, bias) = register_affine(*this, g);
}

Tensor BatchChannelNorm::forward(const Tensor& x) {
  check(x.dim() >= 2 && x.shape()[1] == num_channels, "BatchChannelNorm", "expected ", num_channels,
        " channels, got input ", shape_str(x.shape()));
  const Tensor u = (*gn)((*bn)(x));
  // The per-group affine as a per-channel one (w_{g(c)}, b_{g(c)}): (C)-sized expansions, then
  // the hand-derived plane_affine pass.
  const Shape grouped{num_groups, num_channels / num_groups};
  const Tensor w = mul(Tensor::ones(grouped, weight.dtype()), weight.view({num_groups, 1}));
  const Tensor b = add(Tensor::zeros(grouped, bias.dtype()), bias.view({num_groups, 1}));
  return plane_affine(u, w.reshape({num_channels}), b.reshape({num_channels}), "BatchChannelNorm");
}

NORMLAB_NORM(bcn) {
  std::vector<NormOption> options{
      NormOption::count("groups", 8, "channel groups G of the GN part")};
  for (NormOption& o : batch_norm_option_table()) options.push_back(std::move(o));
  return {
      .name = "bcn",
      .family = NormFamily::batch,
      .summary = "Batch-Channel Normalization: BatchNorm, then GroupNorm with a per-group affine",
      .options = std::move(options),
      .build =
          [](const NormArgs& a, int64_t c) {
            const BatchNormOptions o = batch_norm_options(a, {});
            return NormSlot{std::make_shared<BatchChannelNorm>(c, a.count("groups"), o, o.eps)};
          },
      .page = "",
      .example = "bcn:groups=2"};
}

}  // namespace nl
