// ResNet for CIFAR (He et al. 2016, section 4.2), depth 6n+2: ResNet-20/32/44/56/110.
//   stem:   conv3x3(3 -> w) - norm - ReLU
//   stages: n BasicBlocks each at widths w, 2w, 4w; stride 2 at the first block of stages 2, 3
//   block:  conv3x3 - norm - ReLU - conv3x3 - norm, + shortcut, ReLU (residual_blocks.hpp)
//           shortcut = identity, or conv1x1(stride s) - norm when the shape changes
//   head:   global average pool - Linear(4w -> classes)
// Every norm slot is filled by the normalizer factory from one spec string. Names follow the
// common PyTorch CIFAR ResNet: conv1, bn1, layer1.0.conv1, layer1.0.bn1, ..., fc.
//
// Normalizer-free remedies (docs/norms/normalizer-free.md), usable with any norm incl. "none":
// residual = skipinit or fixup builds every block as a SkipInitBlock or FixupBlock
// (residual_blocks.hpp); fixup also adds the stem and classifier biases and zeroes the
// classifier.
#pragma once
#include <string>

#include "layers/container.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/linear.hpp"
#include "layers/models/residual_blocks.hpp"
#include "layers/module.hpp"

namespace nl {

// The options every model takes, the one struct that flows from the command line
// (apps: TrainConfig::model_options) through make_model to the blocks.
struct ModelOptions {
  int width = 16;           // channels of the first stage (the stem)
  std::string norm = "bn";  // normalizer spec of every slot (layers/norm/factory.hpp)
  int num_classes = 10;
  bool kaiming_normal = false;     // re-initialise convs Kaiming-normal (fan_in, ReLU gain)
  std::string residual = "plain";  // ResNets only: plain | skipinit | fixup
  int input_size = 32;             // image side; norm slots whose parameters are spatial need it
};

class ResNet : public Module {
 public:
  // depth = 6n + 2: 20, 32, 44, 56, 110, ...
  ResNet(int depth, const ModelOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResNet"; }
  std::string describe() const override;

  int depth;
  ModelOptions options;
  std::shared_ptr<Sequential> layer1, layer2, layer3;

 private:
  std::shared_ptr<Conv2d> conv1_;
  ModulePtr bn1_, pool_;
  std::shared_ptr<Linear> fc_;
  bool stem_has_act_ = false;
  Tensor fixup_bias1_, fixup_bias2_;  // fixup: after the stem conv, before the classifier
};

// Re-initialises every convolution Kaiming-normal (fan_in, ReLU gain); weight normalizers get
// their gain reset so that the effective weight is the new one.
void kaiming_normal_convs(Module& model);

// "resnet20", "vgg11", ... -> a model. Throws naming the model on an unknown name, and on a
// residual remedy asked of a model without residual blocks.
ModulePtr make_model(const std::string& name, const ModelOptions& options);
ModulePtr make_model(const std::string& name, int width, const std::string& norm,
                     int num_classes = 10, bool kaiming_normal = false);

}  // namespace nl
