// Spatial pooling over (N, C, H, W), each plane independently.
//   max_pool2d: out = max over the window; backward sends dy to the first maximal element
//               (PyTorch's choice for ties).
//   avg_pool2d: out = sum over the window / divisor, divisor counts padding when
//               count_include_pad (PyTorch default); backward spreads dy / divisor.
//   adaptive_avg_pool2d: window i spans [floor(i*H/out), ceil((i+1)*H/out)).
#pragma once
#include "layers/module.hpp"

namespace nl {

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0,
                  bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0)
      : kernel(kernel), stride(stride ? stride : kernel), padding(padding) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, kernel, stride, padding); }
  std::string type_name() const override { return "MaxPool2d"; }
  int64_t kernel, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0,
                     bool count_include_pad = true)
      : kernel(kernel),
        stride(stride ? stride : kernel),
        padding(padding),
        count_include_pad(count_include_pad) {}
  Tensor forward(const Tensor& x) override {
    return avg_pool2d(x, kernel, stride, padding, count_include_pad);
  }
  std::string type_name() const override { return "AvgPool2d"; }
  int64_t kernel, stride, padding;
  bool count_include_pad;
};

// AdaptiveAvgPool2d(1) is global average pooling.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(int64_t out_h = 1, int64_t out_w = -1)
      : out_h(out_h), out_w(out_w < 0 ? out_h : out_w) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, out_h, out_w); }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  int64_t out_h, out_w;
};

}  // namespace nl
