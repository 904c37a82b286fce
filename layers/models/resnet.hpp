// ResNet for CIFAR (He et al. 2016, section 4.2), depth 6n+2: ResNet-20/32/44/56/110.
//   stem:   conv3x3(3 -> w) - norm - ReLU
//   stages: n BasicBlocks each at widths w, 2w, 4w; stride 2 at the first block of stages 2, 3
//   block:  conv3x3 - norm - ReLU - conv3x3 - norm, + shortcut, ReLU
//           shortcut = identity, or conv1x1(stride s) - norm when the shape changes
//   head:   global average pool - Linear(4w -> classes)
// Every norm slot is filled by the normalizer factory from one spec string. Names follow the
// common PyTorch CIFAR ResNet: conv1, bn1, layer1.0.conv1, layer1.0.bn1, ..., fc.
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
  bool kaiming_normal = false;  // re-initialise convs Kaiming-normal (fan_in, ReLU gain)
  int input_size = 32;          // image side; norm slots whose parameters are spatial need it
};

class BasicBlock : public Module {
 public:
  // out_size: side of the block's output map, for norm slots that need it.
  BasicBlock(int64_t in, int64_t out, int64_t stride, const std::string& norm,
             int64_t out_size = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }

 private:
  ModulePtr conv1_, bn1_, conv2_, bn2_, shortcut_;
  bool bn1_has_act_ = false, bn2_has_act_ = false;
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
};

// "resnet20", "vgg11", ... -> a model. Throws naming the model on an unknown name.
ModulePtr make_model(const std::string& name, int width, const std::string& norm,
                     int num_classes = 10, bool kaiming_normal = false);

}  // namespace nl
