// Gradient clipping applied between backward and the optimizer step.
//
// Adaptive gradient clipping (AGC; Brock et al. 2021, "High-Performance Large-Scale Image
// Recognition Without Normalization"): clips each *unit* (one output row of a weight: a conv
// filter, a Linear row; a whole 0-D/1-D parameter) by the ratio of its gradient norm to its
// weight norm:
//   if ||G_i|| > lambda * max(||W_i||, eps):  G_i <- G_i * lambda * max(||W_i||, eps) / ||G_i||
// so no step can change a unit by more than a fraction ~lr*lambda of its size. The paper does
// not clip the final classifier; leave it out of `params` (the train app's --agc does).
// Same unit convention as timm's adaptive_clip_grad (eps = 1e-3, lambda = 0.01 by default).
#pragma once
#include <vector>

#include "core/tensor.hpp"

namespace nl {

// Clips the gradients of `params` in place; parameters without a gradient are skipped.
void adaptive_clip_grad_(const std::vector<Tensor>& params, double clip_factor = 0.01,
                         double eps = 1e-3);

}  // namespace nl
