#include "layers/models/resnet.hpp"

#include <cmath>

#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/models/model_memory.hpp"
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

void kaiming_normal_convs(Module& model) {
  for (auto& [name, m] : model.named_modules())
    if (auto conv = std::dynamic_pointer_cast<Conv2d>(m)) {
      kaiming_normal_(conv->weight, 0, FanMode::fan_in, "relu");
      if (auto wn = std::dynamic_pointer_cast<WeightNormalizer>(conv->weight_norm))
        wn->reset_gain(conv->weight);
    }
}

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride, const BlockOptions& o)
    : residual_(o.residual) {
  check(o.residual == "plain" || o.residual == "skipinit" || o.residual == "fixup", "BasicBlock",
        "unknown residual remedy '", o.residual, "' (use plain, skipinit or fixup)");
  const Shape spatial = o.out_size > 0 ? Shape{o.out_size, o.out_size} : Shape{};
  auto conv1 = std::make_shared<Conv2d>(in, out, 3, stride, 1, false);
  conv1_ = register_module("conv1", conv1);
  NormSlot n1 = make_norm(o.norm, out, spatial);
  attach_slot(n1, conv1_);
  bn1_ = register_module("bn1", n1.module);
  bn1_has_act_ = n1.includes_activation;
  auto conv2 = std::make_shared<Conv2d>(out, out, 3, 1, 1, false);
  conv2_ = register_module("conv2", conv2);
  NormSlot n2 = make_norm(o.norm, out, spatial, false);  // the add comes before the ReLU
  attach_slot(n2, conv2_);
  bn2_ = register_module("bn2", n2.module);
  bn2_has_act_ = n2.includes_activation;
  if (stride != 1 || in != out) {
    auto sc = std::make_shared<Sequential>();
    auto projection = std::make_shared<Conv2d>(in, out, 1, stride, 0, false);
    const NormSlot slot = make_norm(o.norm, out, spatial, false);
    attach_slot(slot, projection);
    sc->push_back(projection);
    sc->push_back(slot.module);
    shortcut_ = register_module("shortcut", sc);
  }
  if (o.residual == "skipinit") skip_gain_ = register_parameter("skip_gain", Tensor::zeros({1}));
  if (o.residual == "fixup") {
    bias1a_ = register_parameter("bias1a", Tensor::zeros({1}));
    bias1b_ = register_parameter("bias1b", Tensor::zeros({1}));
    bias2a_ = register_parameter("bias2a", Tensor::zeros({1}));
    scale_ = register_parameter("scale", Tensor::ones({1}));
    bias2b_ = register_parameter("bias2b", Tensor::zeros({1}));
  }
}

void BasicBlock::init_fixup(int64_t num_branches) {
  auto conv1 = std::static_pointer_cast<Conv2d>(conv1_);
  auto conv2 = std::static_pointer_cast<Conv2d>(conv2_);
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
    scale_.fill_(0);
  else
    conv2->weight.fill_(0);
}

Tensor BasicBlock::forward(const Tensor& x) {
  if (residual_ == "fixup") {
    const Tensor xa = add(x, bias1a_);
    Tensor out = (*bn1_)((*conv1_)(xa));
    out = bn1_has_act_ ? add(out, bias1b_) : relu(add(out, bias1b_));
    out = (*bn2_)((*conv2_)(add(out, bias2a_)));
    out = add(mul(out, scale_), bias2b_);
    return add_relu(out, shortcut_ ? (*shortcut_)(xa) : x);
  }
  Tensor out = norm_act(bn1_, bn1_has_act_, (*conv1_)(x));
  out = (*bn2_)((*conv2_)(out));
  if (residual_ == "skipinit") out = mul(out, skip_gain_);
  return add_relu(out, shortcut_ ? (*shortcut_)(x) : x);
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
  attach_slot(stem, conv1_);
  bn1_ = register_module("bn1", stem.module);
  stem_has_act_ = stem.includes_activation;
  int64_t in = w;
  std::shared_ptr<Sequential>* stages[] = {&layer1, &layer2, &layer3};
  for (int s = 0; s < 3; ++s) {
    auto stage = std::make_shared<Sequential>();
    const int64_t out = w << s;
    for (int b = 0; b < n; ++b) {
      const BlockOptions block{o.norm, o.residual, o.input_size >> s};
      stage->push_back(std::make_shared<BasicBlock>(in, out, (s > 0 && b == 0) ? 2 : 1, block));
      in = out;
    }
    *stages[s] = register_module("layer" + std::to_string(s + 1), stage);
  }
  pool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1));
  fc_ = register_module("fc", std::make_shared<Linear>(in, o.num_classes));
  if (o.kaiming_normal) kaiming_normal_convs(*this);
  if (o.residual == "fixup") {
    for (auto* stage : {&layer1, &layer2, &layer3})
      for (auto& [name, block] : (*stage)->children())
        std::static_pointer_cast<BasicBlock>(block)->init_fixup(3 * n);
    fixup_bias1_ = register_parameter("bias1", Tensor::zeros({1}));
    fixup_bias2_ = register_parameter("bias2", Tensor::zeros({1}));
    fc_->weight.fill_(0);  // Fixup: the classifier starts at zero
    if (fc_->bias.defined()) fc_->bias.fill_(0);
  }
}

Tensor ResNet::forward(const Tensor& x) {
  check(x.dim() == 4 && x.shape()[1] == 3, "ResNet", "expected images (N, 3, H, W), got ",
        shape_str(x.shape()));
  Tensor h = (*bn1_)((*conv1_)(x));
  if (fixup_bias1_.defined()) h = add(h, fixup_bias1_);
  if (!stem_has_act_) h = relu(h);
  h = (*layer3)((*layer2)((*layer1)(h)));
  h = (*pool_)(h).flatten(1);
  if (fixup_bias2_.defined()) h = add(h, fixup_bias2_);
  return (*fc_)(h);
}

std::string ResNet::describe() const {
  return "ResNet" + std::to_string(options.depth) + "(width=" + std::to_string(options.width) +
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
    ResNetOptions r;
    r.depth = m.depth;
    r.width = o.width;
    r.num_classes = o.num_classes;
    r.norm = o.norm;
    r.kaiming_normal = o.kaiming_normal;
    r.residual = o.residual;
    return std::make_shared<ResNet>(r);
  }
  check(o.residual == "plain", "make_model", "'", name, "' has no residual blocks, so --",
        o.residual, " does not apply");
  auto vgg = std::make_shared<VGG>(m.depth, o.width, o.norm, o.num_classes);
  if (o.kaiming_normal) kaiming_normal_convs(*vgg);
  return vgg;
}

}  // namespace nl
