// How much memory training a CIFAR model will take, estimated from its architecture before
// anything is allocated: `train` refuses a run the machine cannot hold (--width 4096, a
// ResNet-6002) with this estimate instead of being killed by the kernel halfway.
#pragma once
#include <cstdint>
#include <string>

#include "core/system_memory.hpp"

namespace nl {

struct MemoryEstimate {
  int64_t parameters = 0;       // learnable values
  double parameter_bytes = 0;   // weights, gradients, optimizer state, checkpoint copy
  double activation_bytes = 0;  // what one batch's forward keeps for backward, and its grads
  double total_bytes() const { return parameter_bytes + activation_bytes; }
  std::string describe() const;  // "12.3 GiB (1.2 GiB parameters and state, 11.1 GiB ...)"
};

// For the models make_model builds (resnet<6n+2>, vgg<depth>); throws on an unknown name.
MemoryEstimate estimate_training_memory(const std::string& model, int64_t width,
                                        int64_t num_classes, int64_t batch_size);

}  // namespace nl

namespace nl {

// "resnet56" -> {"resnet", 56}; "vgg11" -> {"vgg", 11}. Throws on an unknown family, an
// unreadable depth, a ResNet depth that is not 6n+2, or a depth beyond the supported range
// (ResNet <= 1202, the deepest of He et al.; VGG <= 1000).
struct ModelName {
  std::string family;
  int depth = 0;
};
ModelName parse_model_name(const std::string& name);

}  // namespace nl
