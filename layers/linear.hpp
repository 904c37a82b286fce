// Fully connected layer: y = x W^T + b, x (N, in) -> y (N, out). PyTorch-default init.
#pragma once
#include "layers/module.hpp"

namespace nl {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string describe() const override;

  // As Conv2d's: W = normalizer(weight) from now on, child "weight_norm".
  void attach_weight_normalizer(ModulePtr normalizer);
  Tensor effective_weight() const;

  Tensor weight, bias;
  ModulePtr weight_norm;
  int64_t in_features, out_features;
};

}  // namespace nl
