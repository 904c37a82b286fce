// A plain (non-residual) VGG-style CNN for studying normalizers without skip connections.
//   depth 3x3 conv layers in three stages of widths w, 2w, 4w (layers split as evenly as
//   possible, earlier stages taking the remainder), each conv - norm - ReLU, 2x2 max pooling
//   after stages 1 and 2, then global average pooling and Linear(4w -> classes).
#pragma once
#include <string>

#include "layers/container.hpp"
#include "layers/linear.hpp"

namespace nl {

class VGG : public Module {
 public:
  VGG(int depth, int width, const std::string& norm, int num_classes = 10);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "VGG"; }
  std::shared_ptr<Sequential> features;
  std::shared_ptr<Linear> fc;
};

}  // namespace nl
