#include "layers/models/residual_blocks.hpp"

#include <cmath>

#include "autograd/ops.hpp"
#include "autograd/profiler.hpp"
#include "core/init.hpp"
#include "layers/container.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/conv/fold.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/weight/weight_normalizer.hpp"

namespace nl {

ResidualRemedy residual_remedy(const std::string& name) {
  if (name == "plain") return ResidualRemedy::plain;
  if (name == "skipinit") return ResidualRemedy::skipinit;
  if (name == "fixup") return ResidualRemedy::fixup;
  throw Error("BasicBlock: unknown residual remedy '" + name + "' (use plain, skipinit or fixup)");
}

std::string residual_remedy_name(ResidualRemedy remedy) {
  switch (remedy) {
    case ResidualRemedy::plain:
      return "plain";
    case ResidualRemedy::skipinit:
      return "skipinit";
    case ResidualRemedy::fixup:
      return "fixup";
  }
  return "plain";
}

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride, const std::string& norm,
                       int64_t out_size) {
  const Shape spatial = out_size > 0 ? Shape{out_size, out_size} : Shape{};
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, out, 3, stride, 1, false));
  const NormSlot n1 = make_norm(norm, out, spatial);
  attach_slot(n1, conv1_);
  bn1_ = register_module("bn1", n1.module);
  bn1_has_act_ = n1.includes_activation;
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(out, out, 3, 1, 1, false));
  const NormSlot n2 = make_norm(norm, out, spatial, false);  // the add comes before the ReLU
  attach_slot(n2, conv2_);
  bn2_ = register_module("bn2", n2.module);
  if (stride != 1 || in != out) {
    auto projection = std::make_shared<Conv2d>(in, out, 1, stride, 0, false);
    const NormSlot slot = make_norm(norm, out, spatial, false);
    attach_slot(slot, projection);
    auto sc = std::make_shared<Sequential>();
    sc->push_back(projection);
    sc->push_back(slot.module);
    shortcut_ = register_module("shortcut", sc);
    shortcut_conv_ = projection;
    shortcut_norm_ = slot.module;
  }
}

// conv_then_norm folds each normalizer into its convolution in inference, and the ReLU and the
// join into the convolution's epilogue (layers/conv/fold.hpp).
Tensor BasicBlock::branch(const Tensor& x) {
  const Tensor h = conv_then_norm(*conv1_, *bn1_, x, {.relu = !bn1_has_act_});
  return conv_then_norm(*conv2_, *bn2_, h);
}

Tensor BasicBlock::shortcut(const Tensor& x) {
  if (!shortcut_) return x;
  if (shortcut_->has_forward_hooks()) return (*shortcut_)(x);  // the hook sees its own module
  return conv_then_norm(*shortcut_conv_, *shortcut_norm_, x);
}

Tensor BasicBlock::forward(const Tensor& x) {
  const Tensor h = conv_then_norm(*conv1_, *bn1_, x, {.relu = !bn1_has_act_});
  // Fused inference computes the shortcut first, so that relu(branch + shortcut) is the second
  // convolution's epilogue; otherwise the order (and what any hook sees) is the textbook one.
  if (conv_then_norm_fuses(*conv2_, *bn2_))
    return conv_then_norm(*conv2_, *bn2_, h, {.residual = shortcut(x), .relu = true});
  return add_relu(conv_then_norm(*conv2_, *bn2_, h), shortcut(x));
}

SkipInitBlock::SkipInitBlock(int64_t in, int64_t out, int64_t stride, const std::string& norm,
                             int64_t out_size)
    : BasicBlock(in, out, stride, norm, out_size) {
  skip_gain = register_parameter("skip_gain", Tensor::zeros({1}));
}

Tensor SkipInitBlock::forward(const Tensor& x) {
  return add_relu(mul(branch(x), skip_gain), shortcut(x));
}

FixupBlock::FixupBlock(int64_t in, int64_t out, int64_t stride, const std::string& norm,
                       int64_t out_size)
    : BasicBlock(in, out, stride, norm, out_size) {
  bias1a = register_parameter("bias1a", Tensor::zeros({1}));
  bias1b = register_parameter("bias1b", Tensor::zeros({1}));
  bias2a = register_parameter("bias2a", Tensor::zeros({1}));
  scale = register_parameter("scale", Tensor::ones({1}));
  bias2b = register_parameter("bias2b", Tensor::zeros({1}));
}

void FixupBlock::init_fixup(int64_t num_branches) {
  const auto& conv1 = conv1_;
  const auto& conv2 = conv2_;
  // Fixup's rule: the branch's first conv He-initialised (fan_out, as in the authors' code) and
  // scaled by L^(-1/(2m-2)) = L^(-1/2) for m = 2 layers per branch; its last conv zero.
  const int64_t fan_out =
      conv1->weight.shape()[0] * conv1->weight.shape()[2] * conv1->weight.shape()[3];
  normal_(conv1->weight, 0, std::sqrt(2.0 / double(fan_out)) / std::sqrt(double(num_branches)));
  if (auto wn = std::dynamic_pointer_cast<WeightNormalizer>(conv1->weight_norm))
    wn->reset_gain(conv1->weight);
  // A weight normalizer cannot map a zero weight to a zero output (it divides by the weight's
  // norm), so there the branch's multiplier starts at zero instead: the same function at init.
  if (conv2->weight_norm)
    scale.fill_(0);
  else
    conv2->weight.fill_(0);
}

bool FixupBlock::fuses_in_inference() const {
  return !bn1_has_act_ && dynamic_cast<const Identity*>(bn1_.get()) &&
         dynamic_cast<const Identity*>(bn2_.get()) && conv_then_norm_fuses(*conv1_, *bn1_) &&
         conv_then_norm_fuses(*conv2_, *bn2_);
}

// Inference without normalizers (no gradient recorded, no hooks): what follows each
// convolution folds into it,
//   relu(W1 * xa + bias1b)                      -> bias bias1b, ReLU in the epilogue
//   relu(scale (W2 * h' + b2) + bias2b + short) -> weight scale W2, bias scale b2 + bias2b,
//                                                  the join and the ReLU in the epilogue
// while the biases before each convolution stay additions: shifting the input is not shifting
// the output, because the zero padding is not shifted.
Tensor FixupBlock::fused_forward(const Tensor& xa) {
  const int64_t out = conv1_->weight.shape()[0];
  const DType dt = xa.dtype();
  auto with_bias = [&](const Conv2d& conv, const Tensor& scale_by, const Tensor& extra) {
    Tensor b = conv.bias.defined() ? mul(conv.bias, scale_by) : Tensor::zeros({out}, dt);
    return add(b, extra);
  };
  const Tensor one = Tensor::ones({1}, dt);
  Tensor h;
  {
    profiler::ForwardScope timed(profiler::enabled() ? "Conv2d (fused)" : std::string());
    h = conv2d_fused(xa, conv1_->effective_weight(), with_bias(*conv1_, one, bias1b),
                     conv1_->options, Tensor(), true);
  }
  const Tensor h2 = add(h, bias2a), residual = shortcut(xa);
  profiler::ForwardScope timed(profiler::enabled() ? "Conv2d (fused)" : std::string());
  return conv2d_fused(h2, mul(conv2_->effective_weight(), scale), with_bias(*conv2_, scale, bias2b),
                      conv2_->options, residual, true);
}

Tensor FixupBlock::forward(const Tensor& x) {
  const Tensor xa = add(x, bias1a);
  if (fuses_in_inference()) return fused_forward(xa);
  Tensor h = add(conv_then_norm(*conv1_, *bn1_, xa), bias1b);
  if (!bn1_has_act_) h = relu(h);
  h = conv_then_norm(*conv2_, *bn2_, add(h, bias2a));
  return add_relu(add(mul(h, scale), bias2b), shortcut(xa));
}

ModulePtr make_residual_block(ResidualRemedy remedy, int64_t in, int64_t out, int64_t stride,
                              const std::string& norm, int64_t out_size) {
  switch (remedy) {
    case ResidualRemedy::skipinit:
      return std::make_shared<SkipInitBlock>(in, out, stride, norm, out_size);
    case ResidualRemedy::fixup:
      return std::make_shared<FixupBlock>(in, out, stride, norm, out_size);
    case ResidualRemedy::plain:
      break;
  }
  return std::make_shared<BasicBlock>(in, out, stride, norm, out_size);
}

}  // namespace nl
