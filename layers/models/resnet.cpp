#include "layers/models/resnet.hpp"

#include <cmath>

#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/conv/fold.hpp"
#include "layers/models/model_memory.hpp"
#include "layers/models/vgg.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/weight/weight_normalizer.hpp"
#include "layers/pooling.hpp"

namespace nl {

void kaiming_normal_convs(Module& model) {
  for (auto& [name, m] : model.named_modules())
    if (auto conv = std::dynamic_pointer_cast<Conv2d>(m)) {
      kaiming_normal_(conv->weight, 0, FanMode::fan_in, "relu");
      if (auto wn = std::dynamic_pointer_cast<WeightNormalizer>(conv->weight_norm))
        wn->reset_gain(conv->weight);
    }
}

ResNet::ResNet(int depth_, const ModelOptions& o) : depth(depth_), options(o) {
  check(depth >= 8 && (depth - 2) % 6 == 0, "ResNet",
        "depth must be 6n+2 (20, 32, 44, 56, 110, ...), got ", depth);
  check(o.width >= 1 && o.num_classes >= 1, "ResNet", "width and num_classes must be positive");
  const int n = (depth - 2) / 6;
  const ResidualRemedy remedy = residual_remedy(o.residual);
  const int64_t w = o.width;
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(3, w, 3, 1, 1, false));
  NormSlot stem = make_norm(o.norm, w, {o.input_size, o.input_size});
  attach_slot(stem, conv1_);
  bn1_ = register_module("bn1", stem.module);
  stem_has_act_ = stem.includes_activation;
  int64_t in = w;
  std::shared_ptr<Sequential>* stages[] = {&layer1, &layer2, &layer3};
  for (int s = 0; s < 3; ++s) {
    auto stage = std::make_shared<Sequential>();
    const int64_t out = w << s;
    for (int b = 0; b < n; ++b) {
      stage->push_back(make_residual_block(remedy, in, out, (s > 0 && b == 0) ? 2 : 1, o.norm,
                                           o.input_size >> s));
      in = out;
    }
    *stages[s] = register_module("layer" + std::to_string(s + 1), stage);
  }
  pool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1));
  fc_ = register_module("fc", std::make_shared<Linear>(in, o.num_classes));
  if (o.kaiming_normal) kaiming_normal_convs(*this);
  if (remedy == ResidualRemedy::fixup) {
    for (auto* stage : {&layer1, &layer2, &layer3})
      for (auto& [name, block] : (*stage)->children())
        std::static_pointer_cast<FixupBlock>(block)->init_fixup(3 * n);
    fixup_bias1_ = register_parameter("bias1", Tensor::zeros({1}));
    fixup_bias2_ = register_parameter("bias2", Tensor::zeros({1}));
    fc_->weight.fill_(0);  // Fixup: the classifier starts at zero
    if (fc_->bias.defined()) fc_->bias.fill_(0);
  }
}

Tensor ResNet::forward(const Tensor& x) {
  check(x.dim() == 4 && x.shape()[1] == 3, "ResNet", "expected images (N, 3, H, W), got ",
        shape_str(x.shape()));
  // Folded, with the ReLU in the convolution's epilogue, in inference (layers/conv/fold.hpp).
  Tensor h = conv_then_norm(*conv1_, *bn1_, x, {.relu = !stem_has_act_ && !fixup_bias1_.defined()});
  if (fixup_bias1_.defined()) h = add(h, fixup_bias1_);
  if (fixup_bias1_.defined() && !stem_has_act_) h = relu(h);
  h = (*layer3)((*layer2)((*layer1)(h)));
  h = (*pool_)(h).flatten(1);
  if (fixup_bias2_.defined()) h = add(h, fixup_bias2_);
  return (*fc_)(h);
}

std::string ResNet::describe() const {
  return "ResNet" + std::to_string(depth) + "(width=" + std::to_string(options.width) +
         ", norm=" + options.norm +
         (options.residual == "plain" ? "" : ", residual=" + options.residual) + ")";
}

ModulePtr make_model(const std::string& name, int width, const std::string& norm, int classes,
                     bool kaiming_normal) {
  return make_model(name, ModelOptions{width, norm, classes, kaiming_normal});
}

ModulePtr make_model(const std::string& name, const ModelOptions& o) {
  const ModelName m = parse_model_name(name);
  if (m.family == "resnet") {
    return std::make_shared<ResNet>(m.depth, o);
  }
  check(o.residual == "plain", "make_model", "'", name, "' has no residual blocks, so --",
        o.residual, " does not apply");
  auto vgg = std::make_shared<VGG>(m.depth, o.width, o.norm, o.num_classes);
  if (o.kaiming_normal) kaiming_normal_convs(*vgg);
  return vgg;
}

}  // namespace nl
