// InstanceNorm (Ulyanov et al. 2016): per sample and channel, statistics over spatial positions.
// PyTorch defaults: affine = false, track_running_stats = false (instance statistics in eval
// too). With tracking, the running buffers blend the batch average of the per-instance mean and
// unbiased variance, and eval uses them (then it equals BatchNorm's eval). docs/norms/in.md.
#pragma once
#include <optional>

#include "layers/module.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

struct InstanceNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = false;
  bool track_running_stats = false;
};

class InstanceNorm2d : public Module {
 public:
  explicit InstanceNorm2d(int64_t num_features, InstanceNormOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "InstanceNorm2d"; }

  int64_t num_features;
  InstanceNormOptions options;
  Tensor weight, bias;
  RunningStats running;
};

}  // namespace nl
