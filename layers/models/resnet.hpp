// ResNet for CIFAR (He et al. 2016, section 4.2), depth 6n+2: ResNet-20/32/44/56/110.
//   stem:   conv3x3(3 -> w) - norm - ReLU
//   stages: n BasicBlocks each at widths w, 2w, 4w; stride 2 at the first block of stages 2, 3
//   block:  conv3x3 - norm - ReLU - conv3x3 - norm, + shortcut, ReLU
//           shortcut = identity, or conv1x1(stride s) - norm when the shape changes
//   head:   global average pool - Linear(4w -> classes)
// Every norm slot is filled by the normalizer factory from one spec string. Names follow the
// common PyTorch CIFAR ResNet: conv1, bn1, layer1.0.conv1, layer1.0.bn1, ..., fc.
//
// Normalizer-free remedies (docs/norms/normalizer-free.md), usable with any norm incl. "none":
//   skipinit (De & Smith 2020): out = relu(alpha * branch(x) + shortcut(x)), alpha a learnable
//            scalar initialised to 0, so every block starts as the identity.
//   fixup (Zhang et al. 2019): scalar biases before each conv and activation, a scalar
//            multiplier on the branch; the branch's first conv Kaiming-normal (fan_out) scaled by
//            L^(-1/2) (L = number of residual branches), its last conv and the classifier zero.
#pragma once
#include <string>

#include "layers/container.hpp"
#include "layers/linear.hpp"
#include "layers/module.hpp"

namespace nl {

struct ResNetOptions {
  int depth = 20;
  int width = 16;
  int num_classes = 10;
  std::string norm = "bn";
  bool kaiming_normal = false;     // re-initialise convs Kaiming-normal (fan_in, ReLU gain)
  int input_size = 32;             // image side; norm slots whose parameters are spatial need it
  std::string residual = "plain";  // plain | skipinit | fixup
};

// One block's share of the model options.
struct BlockOptions {
  std::string norm = "bn";
  std::string residual = "plain";
  int64_t out_size = 0;  // side of the block's output map, for norm slots that need it
};

class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride, const BlockOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }
  // Fixup's initialisation for a model of num_branches residual branches (residual = fixup).
  void init_fixup(int64_t num_branches);

 private:
  ModulePtr conv1_, bn1_, conv2_, bn2_, shortcut_;
  bool bn1_has_act_ = false, bn2_has_act_ = false;
  std::string residual_;
  // skipinit: skip_gain. fixup: bias1a, bias1b, bias2a, scale, bias2b (the Fixup repo's names).
  Tensor skip_gain_, bias1a_, bias1b_, bias2a_, scale_, bias2b_;
};

class ResNet : public Module {
 public:
  explicit ResNet(const ResNetOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResNet"; }
  std::string describe() const override;

  ResNetOptions options;
  std::shared_ptr<Sequential> layer1, layer2, layer3;

 private:
  ModulePtr conv1_, bn1_, pool_;
  std::shared_ptr<Linear> fc_;
  bool stem_has_act_ = false;
  Tensor fixup_bias1_, fixup_bias2_;  // fixup: after the stem conv, before the classifier
};

// Re-initialises every convolution Kaiming-normal (fan_in, ReLU gain); weight normalizers get
// their gain reset so that the effective weight is the new one.
void kaiming_normal_convs(Module& model);

struct ModelOptions {
  int width = 16;
  std::string norm = "bn";
  int num_classes = 10;
  bool kaiming_normal = false;
  std::string residual = "plain";  // ResNets only: plain | skipinit | fixup
};

// "resnet20", "vgg11", ... -> a model. Throws naming the model on an unknown name, and on a
// residual remedy asked of a model without residual blocks.
ModulePtr make_model(const std::string& name, const ModelOptions& options);
ModulePtr make_model(const std::string& name, int width, const std::string& norm,
                     int num_classes = 10, bool kaiming_normal = false);

}  // namespace nl
