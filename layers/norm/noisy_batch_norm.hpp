// "Noisy BatchNorm" (Santurkar, Tsipras, Ilyas & Madry 2018, section 2.1): BatchNorm followed by
// a per-channel random affine that is drawn anew at every training step,
//   y = a_c BN(x) + b_c,   a_c ~ U(1, scale),   b_c ~ U(-shift, shift)
// so the distribution each layer sees shifts from step to step (large "internal covariate
// shift") although BatchNorm is there. The paper uses it to show that BatchNorm's benefit does
// not come from stable layer input distributions. An experiment, not a layer to train real
// models with. Eval: no noise. Draws come from the global generator (manual_seed).
#pragma once
#include "layers/module.hpp"

namespace nl {

class NoisyBatchNorm : public Module {
 public:
  NoisyBatchNorm(int64_t num_features, double shift = 1.0, double scale = 2.0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "NoisyBatchNorm"; }

  ModulePtr bn;
  double shift, scale;
};

}  // namespace nl
