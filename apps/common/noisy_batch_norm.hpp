// "Noisy BatchNorm" (Santurkar, Tsipras, Ilyas & Madry 2018, section 2.1): BatchNorm followed by
// a per-channel random affine that is drawn anew at every training step,
//   y = a_c BN(x) + b_c,   a_c ~ U(1, scale),   b_c ~ U(-shift, shift)
// so the distribution each layer sees shifts from step to step (large "internal covariate
// shift") although BatchNorm is there. The paper uses it to show that BatchNorm's benefit does
// not come from stable layer input distributions. An experiment, not a layer to train real
// models with. Eval: the noise's expectation, y = (1 + scale)/2 BN(x), as dropout keeps its
// expectation. The draws of training step k depend on k and a per-layer seed taken from the
// global generator (manual_seed), so re-running a step reproduces its noise.
//
// It lives with the probes, not in the library: register_noisy_batch_norm() adds `noisybn` to
// the normalizer registry for the apps (train, evaluate, probe) that call it.
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

 private:
  uint64_t seed_;  // per layer, from the global generator (manual_seed)
};

// Adds `noisybn:shift=1,scale=2` to the registry (layers/norm/registry.hpp); idempotent.
void register_noisy_batch_norm();

}  // namespace nl
