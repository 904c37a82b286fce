// Structural modules: Sequential, Identity, Flatten, Dropout.
#pragma once
#include <memory>
#include <vector>

#include "core/random.hpp"
#include "layers/module.hpp"

namespace nl {

// Applies its children in order; children are named "0", "1", ... as in PyTorch.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> modules);
  void push_back(ModulePtr m);
  template <typename M, typename... Args>
  std::shared_ptr<M> emplace(Args&&... args) {
    auto m = std::make_shared<M>(std::forward<Args>(args)...);
    push_back(m);
    return m;
  }
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return children().size(); }
  ModulePtr operator[](size_t i) const { return children()[i].second; }
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

// (N, d1, d2, ...) -> (N, d1*d2*...)
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x.flatten(1); }
  std::string type_name() const override { return "Flatten"; }
};

// Inverted dropout: in training, zero each element with probability p and scale the rest by
// 1/(1-p); identity in eval.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  double p;
  Generator generator;
};

}  // namespace nl
