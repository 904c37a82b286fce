// Pointwise activations as modules (the math and its backward live in autograd/ops.cpp).
#pragma once
#include <cmath>

#include "autograd/ops.hpp"
#include "layers/module.hpp"

namespace nl {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, slope); }
  std::string type_name() const override { return "LeakyReLU"; }
  double slope;
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return silu(x); }
  std::string type_name() const override { return "SiLU"; }
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override { return nl::tanh(x); }
  std::string type_name() const override { return "Tanh"; }
};

// ReLU shifted and scaled so that a standard normal input gives zero mean and unit variance:
//   (relu(x) - 1/sqrt(2 pi)) / sqrt((1 - 1/pi) / 2)
// The activation the Beyond BatchNorm paper (Lubana et al. 2021) pairs with Weight Norm, which
// otherwise lets the mean of ReLU outputs pile up with depth.
class CenteredReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override {
    const double pi = 3.14159265358979323846;
    return mul(add(relu(x), -1 / std::sqrt(2 * pi)), 1 / std::sqrt((1 - 1 / pi) / 2));
  }
  std::string type_name() const override { return "CenteredReLU"; }
};

}  // namespace nl
