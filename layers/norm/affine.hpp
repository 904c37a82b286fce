// The per-channel affine of a normalizer, as a component its layer registers:
//   weight (gamma, init 1) and bias (beta, init 0), shape (C), PyTorch's names and inits.
//   std::tie(weight, bias) = register_affine(*this, channels, options.affine);
// Both are undefined when `enabled` is false (and bias when `with_bias` is false: RMSNorm).
#pragma once
#include <utility>
#include <vector>

#include "layers/module.hpp"

namespace nl {

inline std::pair<Tensor, Tensor> register_affine(Module& owner, int64_t channels,
                                                 bool enabled = true, bool with_bias = true) {
  if (!enabled) return {};
  Tensor weight = owner.register_parameter("weight", Tensor::ones({channels}));
  Tensor bias = with_bias ? owner.register_parameter("bias", Tensor::zeros({channels})) : Tensor();
  return {weight, bias};
}

// Gamma or beta as the kernels read them: doubles, one per channel, or `fallback` (1 for gamma,
// 0 for beta) for each of the `channels` when the layer has no affine (an undefined tensor).
inline std::vector<double> affine_values(const Tensor& t, int64_t channels, double fallback) {
  return t.defined() ? t.to_vector() : std::vector<double>(size_t(channels), fallback);
}

}  // namespace nl
