// GroupNorm (Wu & He 2018): per sample, statistics over each group of C/G channels and all
// spatial positions; per-channel affine. Same in train and eval (no running statistics).
//   y = gamma_c (x - mu_{n,g}) / sqrt(var_{n,g} + eps) + beta_c
// LayerNorm of the papers (statistics over (C, H, W), per-channel affine) is GroupNorm(1, C);
// InstanceNorm with affine is GroupNorm(C, C). docs/norms/gn.md.
#pragma once
#include "layers/module.hpp"
#include "layers/norm/plane_norm.hpp"

namespace nl {

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  // Builds it from a group size instead of a count (timm's group_size); throws if it does not
  // divide the channels.
  static std::shared_ptr<GroupNorm> with_group_size(int64_t group_size, int64_t num_channels,
                                                    double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string describe() const override;

  int64_t num_groups, num_channels;
  double eps;
  // {subtract_mean = false}: y = gamma x / sqrt(var + eps) + beta, the group-std-only form
  // (EvoNorm-S0 without its nonlinearity). Default: the usual GroupNorm.
  NormMath math{};
  Tensor weight, bias;
};

}  // namespace nl
