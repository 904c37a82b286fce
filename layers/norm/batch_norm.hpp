// BatchNorm (Ioffe & Szegedy 2015) with PyTorch semantics; docs/norms/bn.md has the derivation.
//
//   train: y = gamma (x - mu_B) / sqrt(var_B + eps) + beta, statistics per channel over (N, *)
//          with the biased variance; running_mean <- (1-m) running_mean + m mu_B and
//          running_var <- (1-m) running_var + m var_B * M/(M-1) (unbiased), M = N * spatial.
//          momentum = nullopt gives the cumulative average (m = 1/num_batches_tracked).
//   eval:  the running statistics, folded into one multiply-add per element.
//   frozen: eval behaviour in both modes, nothing updated (FrozenBatchNorm); survives train().
// Works for (N, C) and (N, C, L) (BatchNorm1d) and (N, C, H, W) (BatchNorm2d).
//
// The batch-statistics relatives are options of the same layer (factory names in brackets):
//   virtual_batch B'  [gbn]  Ghost BatchNorm: training statistics per chunk of B' samples, the
//                            running statistics updated once per chunk; eval as BatchNorm.
//   groups G < C      [bgn]  Batch Group Normalization: statistics over (N, C/G channels, H, W),
//                            running statistics per group (G of them), affine per channel.
//   math.subtract_mean = false  [vn]   Variance Normalization:
//                                      y = gamma x / sqrt(var_B + eps) + beta
//   math.divide_std = false     [mbn]  mean-only BatchNorm:
//                                      y = gamma (x - mu_B) + beta
#pragma once
#include <optional>

#include "layers/module.hpp"
#include "layers/norm/plane_norm.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
  bool frozen = false;
  int64_t virtual_batch = 0;  // 0: the whole batch
  int64_t groups = 0;         // 0: one statistic per channel
  NormMath math{};
};

// A normalizer that, as it is now, computes y_c = scale_c x_c + shift_c per channel.
struct ChannelAffine {
  std::vector<double> scale, shift;
};

class BatchNorm : public Module {
 public:
  // expected_dims: 2 or 3 for BatchNorm1d, 4 for BatchNorm2d, 0 for any rank >= 2.
  explicit BatchNorm(int64_t num_features, BatchNormOptions options = {}, int expected_dims = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm"; }
  std::string describe() const override;
  // With fixed statistics (eval with running statistics, or frozen) the layer is a per-channel
  // affine map; this returns it (scale = gamma / sqrt(var_g + eps), shift = beta - mu_g scale,
  // g the channel's statistic group), so that inference can fold it into the convolution
  // before it (layers/conv/fold.hpp). nullopt while it uses batch statistics.
  std::optional<ChannelAffine> inference_affine() const;

  int64_t num_features, stat_groups;
  BatchNormOptions options;
  int expected_dims;
  Tensor weight, bias;
  RunningStats running;  // running_mean, running_var, num_batches_tracked

 private:
  // The statistics eval uses: the running ones (mean 0 / variance 1 for one not kept).
  Moments running_moments() const;
};

inline std::shared_ptr<BatchNorm> BatchNorm2d(int64_t c, BatchNormOptions o = {}) {
  return std::make_shared<BatchNorm>(c, o, 4);
}
inline std::shared_ptr<BatchNorm> BatchNorm1d(int64_t c, BatchNormOptions o = {}) {
  return std::make_shared<BatchNorm>(c, o, 2);
}

// The spec options every BatchNorm relative shares (eps, momentum, affine,
// track_running_stats, frozen), for the registry entries of bn, gbn, bgn, vn, mbn, bcn, iebn;
// batch_norm_options reads them into `base`.
std::vector<NormOption> batch_norm_option_table();
BatchNormOptions batch_norm_options(const NormArgs& args, BatchNormOptions base);

}  // namespace nl
