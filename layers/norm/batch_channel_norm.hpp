// Batch-Channel Normalization (Qiao et al. 2020, "Micro-Batch Training with Batch-Channel
// Normalization and Weight Standardization"): BatchNorm, then GroupNorm with a per-group affine:
//   u = BatchNorm(x)                                      (per-channel affine, running stats)
//   y = w_g (u - mu_{n,g}(u)) / sqrt(var_{n,g}(u) + eps) + b_g     (G groups, w, b of size G)
// The batch half uses the batch's statistics in training (the large-batch form of the paper);
// the micro-batch form with estimated statistics (EstBN) is not implemented. Both halves run
// on the shared core, so the backward is the composition of two hand-derived norm backwards
// and the hand-derived plane_affine (the per-group affine, expanded to channels as (C)-sized
// values). docs/norms/bcn.md.
#pragma once
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/group_norm.hpp"

namespace nl {

class BatchChannelNorm : public Module {
 public:
  BatchChannelNorm(int64_t num_channels, int64_t num_groups, BatchNormOptions batch = {},
                   double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchChannelNorm"; }

  int64_t num_channels, num_groups;
  std::shared_ptr<BatchNorm> bn;
  std::shared_ptr<GroupNorm> gn;  // without affine: the affine below is per group
  Tensor weight, bias;            // (G)
};

}  // namespace nl
