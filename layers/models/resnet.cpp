#include "layers/models/resnet.hpp"

#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/models/vgg.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/weight/weight_normalizer.hpp"
#include "layers/pooling.hpp"

namespace nl {

namespace {
Tensor norm_act(const ModulePtr& norm, bool has_act, const Tensor& x) {
  Tensor y = (*norm)(x);
  return has_act ? y : relu(y);
}
}  // namespace

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride, const std::string& norm,
                       int64_t out_size) {
  const Shape spatial = out_size > 0 ? Shape{out_size, out_size} : Shape{};
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, out, 3, stride, 1, false));
  NormSlot n1 = make_norm(norm, out, spatial);
  attach_weight_side(n1, *conv1_);
  bn1_ = register_module("bn1", n1.module);
  bn1_has_act_ = n1.includes_activation;
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(out, out, 3, 1, 1, false));
  NormSlot n2 = make_norm(norm, out, spatial);
  attach_weight_side(n2, *conv2_);
  bn2_ = register_module("bn2", n2.module);
  bn2_has_act_ = n2.includes_activation;
  if (stride != 1 || in != out) {
    auto sc = std::make_shared<Sequential>();
    auto projection = std::make_shared<Conv2d>(in, out, 1, stride, 0, false);
    const NormSlot slot = make_norm(norm, out, spatial);
    attach_weight_side(slot, *projection);
    sc->push_back(projection);
    sc->push_back(slot.module);
    shortcut_ = register_module("shortcut", sc);
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = norm_act(bn1_, bn1_has_act_, (*conv1_)(x));
  out = (*bn2_)((*conv2_)(out));
  out = add(out, shortcut_ ? (*shortcut_)(x) : x);
  return relu(out);
}

ResNet::ResNet(const ResNetOptions& o) : options(o) {
  check(o.depth >= 8 && (o.depth - 2) % 6 == 0, "ResNet",
        "depth must be 6n+2 (20, 32, 44, 56, "
        "110, ...), got ",
        o.depth);
  check(o.width >= 1 && o.num_classes >= 1, "ResNet", "width and num_classes must be positive");
  const int n = (o.depth - 2) / 6;
  const int64_t w = o.width;
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(3, w, 3, 1, 1, false));
  NormSlot stem = make_norm(o.norm, w, {o.input_size, o.input_size});
  attach_weight_side(stem, *conv1_);
  bn1_ = register_module("bn1", stem.module);
  stem_has_act_ = stem.includes_activation;
  int64_t in = w;
  std::shared_ptr<Sequential>* stages[] = {&layer1, &layer2, &layer3};
  for (int s = 0; s < 3; ++s) {
    auto stage = std::make_shared<Sequential>();
    const int64_t out = w << s;
    for (int b = 0; b < n; ++b) {
      stage->push_back(std::make_shared<BasicBlock>(in, out, (s > 0 && b == 0) ? 2 : 1, o.norm,
                                                    o.input_size >> s));
      in = out;
    }
    *stages[s] = register_module("layer" + std::to_string(s + 1), stage);
  }
  pool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1));
  fc_ = register_module("fc", std::make_shared<Linear>(in, o.num_classes));
  if (o.kaiming_normal)
    for (auto& [name, m] : named_modules())
      if (auto conv = std::dynamic_pointer_cast<Conv2d>(m)) {
        kaiming_normal_(conv->weight, 0, FanMode::fan_in, "relu");
        if (auto wn = std::dynamic_pointer_cast<WeightNormalizer>(conv->weight_norm))
          wn->reset_gain(conv->weight);
      }
}

Tensor ResNet::forward(const Tensor& x) {
  check(x.dim() == 4 && x.shape()[1] == 3, "ResNet", "expected images (N, 3, H, W), got ",
        shape_str(x.shape()));
  Tensor h = norm_act(bn1_, stem_has_act_, (*conv1_)(x));
  h = (*layer3)((*layer2)((*layer1)(h)));
  return (*fc_)((*pool_)(h).flatten(1));
}

std::string ResNet::describe() const {
  return "ResNet" + std::to_string(options.depth) + "(width=" + std::to_string(options.width) +
         ", norm=" + options.norm + ")";
}

ModulePtr make_model(const std::string& name, int width, const std::string& norm, int classes,
                     bool kaiming_normal) {
  auto number = [&](size_t prefix) -> int {
    try {
      size_t pos = 0;
      const int d = std::stoi(name.substr(prefix), &pos);
      if (pos == name.size() - prefix) return d;
    } catch (const std::exception&) {
    }
    throw Error("make_model: cannot read the depth in '" + name + "'");
  };
  if (name.rfind("resnet", 0) == 0)
    return std::make_shared<ResNet>(ResNetOptions{number(6), width, classes, norm, kaiming_normal});
  if (name.rfind("vgg", 0) == 0) return std::make_shared<VGG>(number(3), width, norm, classes);
  throw Error("make_model: unknown model '" + name + "' (use resnet20|32|44|56|110 or vgg<depth>)");
}

}  // namespace nl
