// The per-channel affine of a normalizer, as a component its layer registers:
//   weight (gamma, init 1) and bias (beta, init 0), shape (C), PyTorch's names and inits.
//   std::tie(weight, bias) = register_affine(*this, channels, options.affine);
// Both are undefined when `enabled` is false (and bias when `with_bias` is false: RMSNorm).
#pragma once
#include <utility>

#include "layers/module.hpp"

namespace nl {

inline std::pair<Tensor, Tensor> register_affine(Module& owner, int64_t channels,
                                                 bool enabled = true, bool with_bias = true) {
  if (!enabled) return {};
  Tensor weight = owner.register_parameter("weight", Tensor::ones({channels}));
  Tensor bias = with_bias ? owner.register_parameter("bias", Tensor::zeros({channels})) : Tensor();
  return {weight, bias};
}

}  // namespace nl
