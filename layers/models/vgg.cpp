#include "layers/models/vgg.hpp"

#include "layers/activation.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/norm/factory.hpp"
#include "layers/pooling.hpp"

namespace nl {

VGG::VGG(int depth, int width, const std::string& norm, int num_classes) {
  check(depth >= 3, "VGG", "depth must be at least 3, got ", depth);
  features = register_module("features", std::make_shared<Sequential>());
  int64_t in = 3;
  for (int s = 0; s < 3; ++s) {
    const int layers = depth / 3 + (s < depth % 3 ? 1 : 0);
    const int64_t out = int64_t(width) << s;
    for (int l = 0; l < layers; ++l) {
      auto conv = std::make_shared<Conv2d>(in, out, 3, 1, 1, false);
      const int64_t side = 32 >> s;  // CIFAR input; max-pool halves it between stages
      NormSlot slot = make_norm(norm, out, {side, side});
      attach_slot(slot, conv);
      features->push_back(conv);
      features->push_back(slot.module);
      if (!slot.includes_activation) features->push_back(std::make_shared<ReLU>());
      in = out;
    }
    if (s < 2) features->push_back(std::make_shared<MaxPool2d>(2));
  }
  features->push_back(std::make_shared<AdaptiveAvgPool2d>(1));
  features->push_back(std::make_shared<Flatten>());
  fc = register_module("fc", std::make_shared<Linear>(in, num_classes));
}

Tensor VGG::forward(const Tensor& x) {
  return (*fc)((*features)(x));
}

}  // namespace nl
