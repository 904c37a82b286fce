// Pointwise activations as modules (the math and its backward live in autograd/ops.cpp).
#pragma once
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

}  // namespace nl
