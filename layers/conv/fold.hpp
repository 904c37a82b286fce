// Inference: a convolution followed by a normalizer that is, at that moment, a per-channel
// affine map (BatchNorm and its relatives with fixed statistics: eval with running statistics,
// or frozen) is one convolution,
//     norm(conv(x))_o = scale_o (W_o * x + b_o) + shift_o = (scale_o W_o) * x + (scale_o b_o +
//     shift_o)
// so the normalizer's pass over the activations disappears (what inference engines do).
//
// conv_then_norm(conv, norm, x) returns norm(conv(x)), folded only where that is exact and
// invisible: no gradient is being recorded (inside NoGradGuard; in eval with gradients on, as
// in fine-tuning with frozen statistics, gamma and beta still receive theirs), the normalizer is
// a BatchNorm-family layer with fixed statistics, and neither module has a forward hook (a hook
// must see the tensors it was registered on). Otherwise it runs conv, then norm, as usual.
#pragma once
#include "layers/conv/conv2d.hpp"
#include "layers/norm/batch_norm.hpp"

namespace nl {

Tensor conv_then_norm(Conv2d& conv, Module& norm, const Tensor& x);

// The folded convolution's weight and bias (the weight after any weight normalizer).
std::pair<Tensor, Tensor> folded_conv_parameters(const Conv2d& conv, const ChannelAffine& affine);

}  // namespace nl
