// Inference: a convolution followed by a normalizer that is, at that moment, a per-channel
// affine map (BatchNorm and its relatives with fixed statistics: eval with running statistics,
// or frozen) is one convolution,
//     norm(conv(x))_o = scale_o (W_o * x + b_o) + shift_o = (scale_o W_o) * x + (scale_o b_o +
//     shift_o)
// so the normalizer's pass over the activations disappears (what inference engines do). What
// follows the normalizer in a residual network, the join's add and the ReLU, then runs in the
// convolution's epilogue (conv_epilogue.hpp) on each output plane as it is written.
//
// conv_then_norm(conv, norm, x, after) returns relu?(norm(conv(x)) + residual), fused only where
// that is exact and invisible: no gradient is being recorded (inside NoGradGuard; in eval with
// gradients on, as in fine-tuning with frozen statistics, gamma and beta still receive theirs),
// the normalizer is a BatchNorm-family layer with fixed statistics or an Identity (no
// normalizer), and neither module has a forward hook (a hook must see the tensors it was
// registered on). Otherwise it runs conv, norm, add and ReLU one by one, as usual.
#pragma once
#include "layers/conv/conv2d.hpp"
#include "layers/norm/batch_norm.hpp"

namespace nl {

// What follows the normalizer: a residual added (undefined: none), then a ReLU or not.
struct AfterNorm {
  Tensor residual = {};
  bool relu = false;
};

Tensor conv_then_norm(Conv2d& conv, Module& norm, const Tensor& x, const AfterNorm& after = {});

// Whether conv_then_norm fuses this pair right now (a block computes its shortcut first then,
// so the join can run in the second convolution's epilogue).
bool conv_then_norm_fuses(const Conv2d& conv, const Module& norm);

// The folded convolution's weight and bias (the weight after any weight normalizer).
std::pair<Tensor, Tensor> folded_conv_parameters(const Conv2d& conv, const ChannelAffine& affine);

}  // namespace nl
