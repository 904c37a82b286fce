// Optimizers with PyTorch semantics and parameter groups (own lr / weight decay per group, e.g.
// no decay on norm parameters and biases). State is exported as named tensors so checkpoints
// can store it next to the model.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace nl {

struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 0.1;
  double weight_decay = 0;
  double momentum = 0;  // SGD momentum; Adam's beta1 (schedules cycle it the same way)
  double beta2 = 0.999;
  double eps = 1e-8;
  double dampening = 0;
  bool nesterov = false;
  // Adaptive gradient clipping of this group before every step (layers/optim/grad_clip.hpp);
  // 0 = off. Put the final classifier in a group without it, as the AGC paper does.
  double agc_clip = 0;
  double agc_eps = 1e-3;
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  std::vector<ParamGroup>& groups() { return groups_; }

  // Per-parameter buffers and each group's lr/momentum, as "state.<g>.<i>.<buffer>" and
  // "group.<g>.lr" entries. load_state_dict checks the whole state first (group count, every
  // buffer's parameter index, shape and dtype) and throws naming the first bad entry, leaving
  // the optimizer unchanged.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // Applies each group's gradient clipping (agc_clip); every step() starts with it.
  void clip_gradients();
  // Lazily creates the named buffer (zeros like the parameter) for parameter i of group g.
  Tensor& buffer(size_t g, size_t i, const std::string& name, bool* created = nullptr,
                 bool scalar = false);
  static size_t count_groups(const std::map<std::string, Tensor>& state);
  std::vector<ParamGroup> groups_;
  std::map<std::string, Tensor> state_;
  int64_t steps_ = 0;
};

// SGD: d = g + wd p; buf = momentum buf + (1 - dampening) d (buf = d on the first step);
// d = nesterov ? d + momentum buf : buf; p -= lr d.
class SGD : public Optimizer {
 public:
  using Optimizer::Optimizer;
  void step() override;
};

// Adam (decoupled = false: L2 added to the gradient) and AdamW (decoupled = true:
// p *= 1 - lr wd before the update), bias-corrected moments.
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, bool decoupled_weight_decay = false);
  void step() override;

 private:
  bool decoupled_;
};

inline std::unique_ptr<Adam> make_adamw(std::vector<ParamGroup> groups) {
  return std::make_unique<Adam>(std::move(groups), true);
}

}  // namespace nl
