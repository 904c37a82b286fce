// The residual blocks of the CIFAR ResNet, one class per remedy (docs/norms/normalizer-free.md):
//   BasicBlock     out = relu(branch(x) + shortcut(x)),
//                  branch = conv3x3 - norm - ReLU - conv3x3 - norm,
//                  shortcut = identity, or conv1x1(stride) - norm when the shape changes
//   SkipInitBlock  out = relu(alpha branch(x) + shortcut(x)), alpha a learned scalar initialised
//                  to 0 (De & Smith 2020): every block starts as the identity
//   FixupBlock     scalar biases before each conv and activation and a scalar multiplier on the
//                  branch (Zhang et al. 2019); init_fixup sets the branch's first conv to He
//                  (fan_out) scaled by L^(-1/2) for L branches and its last conv to zero
// Every norm slot is filled by the normalizer factory from one spec string; parameter names
// follow the common PyTorch CIFAR ResNet and the Fixup repository (bias1a, ..., scale).
#pragma once
#include <string>

#include "layers/conv/conv2d.hpp"
#include "layers/module.hpp"

namespace nl {

enum class ResidualRemedy { plain, skipinit, fixup };
// "plain", "skipinit" or "fixup"; anything else is an error naming the choices.
ResidualRemedy residual_remedy(const std::string& name);
std::string residual_remedy_name(ResidualRemedy remedy);

class BasicBlock : public Module {
 public:
  // norm: the normalizer spec of its three slots; out_size: the side of its output map, for
  // normalizers whose parameters are spatial (0 when unknown).
  BasicBlock(int64_t in, int64_t out, int64_t stride, const std::string& norm, int64_t out_size);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }

 protected:
  Tensor branch(const Tensor& x);    // conv - norm - ReLU - conv - norm
  Tensor shortcut(const Tensor& x);  // identity, or conv1x1 - norm

  std::shared_ptr<Conv2d> conv1_, conv2_, shortcut_conv_;
  ModulePtr bn1_, bn2_, shortcut_norm_, shortcut_;
  bool bn1_has_act_ = false;
};

class SkipInitBlock : public BasicBlock {
 public:
  SkipInitBlock(int64_t in, int64_t out, int64_t stride, const std::string& norm, int64_t out_size);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SkipInitBlock"; }

  Tensor skip_gain;  // alpha
};

class FixupBlock : public BasicBlock {
 public:
  FixupBlock(int64_t in, int64_t out, int64_t stride, const std::string& norm, int64_t out_size);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FixupBlock"; }
  // Fixup's initialisation for a model of `num_branches` residual branches.
  void init_fixup(int64_t num_branches);

  Tensor bias1a, bias1b, bias2a, scale, bias2b;

 private:
  bool fuses_in_inference() const;
  Tensor fused_forward(const Tensor& xa);
};

// The block of `remedy`.
ModulePtr make_residual_block(ResidualRemedy remedy, int64_t in, int64_t out, int64_t stride,
                              const std::string& norm, int64_t out_size);

}  // namespace nl
