#include "layers/models/model_memory.hpp"

#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "core/system_memory.hpp"

namespace nl {
namespace {

// What training keeps per element of a convolution's output: the conv output, the norm's
// output and the activation (saved for backward), and their gradients during backward. A
// measured ResNet-20 peaks below this; the estimate is meant to err on the large side.
constexpr double kBytesPerConvOutput = 6 * sizeof(float);
// Weights, their gradients, momentum (Adam: two moments) and the checkpoint being written.
constexpr double kBytesPerParameter = 5 * sizeof(float);

struct ConvLayer {
  int64_t in, out, kernel, side;  // side: output map side for 32x32 inputs
};

std::vector<ConvLayer> conv_layers(const ModelName& m, int64_t w) {
  std::vector<ConvLayer> layers;
  if (m.family == "resnet") {
    const int n = (m.depth - 2) / 6;
    layers.push_back({3, w, 3, 32});
    int64_t in = w;
    for (int s = 0; s < 3; ++s) {
      const int64_t out = w << s, side = 32 >> s;
      for (int b = 0; b < n; ++b) {
        layers.push_back({in, out, 3, side});
        layers.push_back({out, out, 3, side});
        if (in != out) layers.push_back({in, out, 1, side});
        in = out;
      }
    }
  } else {
    int64_t in = 3;
    for (int s = 0; s < 3; ++s) {
      const int count = m.depth / 3 + (s < m.depth % 3 ? 1 : 0);
      for (int l = 0; l < count; ++l) layers.push_back({in, w << s, 3, 32 >> s}), in = w << s;
    }
  }
  return layers;
}

}  // namespace

ModelName parse_model_name(const std::string& name) {
  ModelName m;
  size_t prefix = 0;
  if (name.rfind("resnet", 0) == 0)
    m.family = "resnet", prefix = 6;
  else if (name.rfind("vgg", 0) == 0)
    m.family = "vgg", prefix = 3;
  else
    throw Error("make_model: unknown model '" + name +
                "' (use resnet20|32|44|56|110 (6n+2) or vgg<depth>)");
  const std::string digits = name.substr(prefix);
  const bool numeric = !digits.empty() && digits.size() <= 6 &&
                       digits.find_first_not_of("0123456789") == std::string::npos;
  if (!numeric) throw Error("make_model: cannot read the depth in '" + name + "'");
  m.depth = std::stoi(digits);
  if (m.family == "resnet") {
    check(m.depth >= 8 && (m.depth - 2) % 6 == 0, "make_model", "'", name,
          "': a CIFAR ResNet's depth is 6n+2 (8, 20, 32, 44, 56, 110, ...)");
    check(m.depth <= 1202, "make_model", "'", name,
          "': depth above 1202 (the deepest CIFAR ResNet of He et al.) is not supported");
  } else {
    check(m.depth >= 3 && m.depth <= 1000, "make_model", "'", name,
          "': a plain VGG's depth must be in [3, 1000]");
  }
  return m;
}

MemoryEstimate estimate_training_memory(const std::string& model, int64_t width,
                                        int64_t num_classes, int64_t batch_size) {
  const ModelName m = parse_model_name(model);
  MemoryEstimate e;
  double outputs_per_sample = 0;
  int64_t last = 0;
  for (const ConvLayer& l : conv_layers(m, width)) {
    e.parameters += l.in * l.out * l.kernel * l.kernel + 2 * l.out;  // weight, norm affine
    outputs_per_sample += double(l.out) * l.side * l.side;
    last = l.out;
  }
  e.parameters += last * num_classes + num_classes;
  e.parameter_bytes = double(e.parameters) * kBytesPerParameter;
  e.activation_bytes = outputs_per_sample * double(batch_size) * kBytesPerConvOutput;
  return e;
}

std::string MemoryEstimate::describe() const {
  return format_bytes(total_bytes()) + " (" + format_bytes(parameter_bytes) + " for " +
         std::to_string(parameters) + " parameters and their state, " +
         format_bytes(activation_bytes) + " of activations)";
}

}  // namespace nl
