// Module: the PyTorch nn.Module contract. A module owns named parameters (trained), buffers
// (state such as BatchNorm's running_mean) and child modules; state_dict() names them the way
// PyTorch does ("layer1.0.bn1.running_mean"), so checkpoints read naturally on both sides.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"

namespace nl {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// Observes a module's input and output during forward (probes use it for activation stats).
using ForwardHook = std::function<void(Module& m, const Tensor& input, const Tensor& output)>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  // A one-line description like PyTorch's repr: "Conv2d(3, 16, kernel_size=3, ...)".
  virtual std::string describe() const { return type_name(); }
  virtual std::string type_name() const = 0;

  // Runs forward and then every forward hook.
  Tensor operator()(const Tensor& x);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  NamedTensors named_parameters() const;
  // Dotted names of the parameters a layer asks never to weight-decay (like timm's
  // model.no_weight_decay()); training puts them in a group with weight_decay = 0.
  std::set<std::string> no_weight_decay() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  std::vector<std::pair<std::string, ModulePtr>> named_modules() const;  // depth-first, incl. ""
  const std::vector<std::pair<std::string, ModulePtr>>& children() const { return children_; }

  // Parameters then buffers, by dotted name. load_state_dict copies values in place and throws
  // naming any missing, unexpected or mis-shaped entry (strict, like PyTorch's default).
  std::map<std::string, Tensor> state_dict() const;
  // Dotted names of the buffers registered as counters (stored as int64 in checkpoints).
  std::set<std::string> counter_buffers() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);

  void zero_grad();
  // Converts every parameter and buffer in place (handles held elsewhere stay valid).
  void to(DType dtype);
  int64_t num_parameters() const;

  void register_forward_hook(ForwardHook hook) { hooks_.push_back(std::move(hook)); }
  void clear_forward_hooks() { hooks_.clear(); }
  bool has_forward_hooks() const { return !hooks_.empty(); }

  // Prints the module tree, one child per line.
  std::string tree(int indent = 0) const;

  // Public, as in PyTorch, so that components (layers/norm/affine.hpp) can register on the
  // module that owns them.
  Tensor& register_parameter(const std::string& name, Tensor t);
  // counter = true marks a buffer that holds a whole number (num_batches_tracked): checkpoints
  // store it as int64, as PyTorch does.
  Tensor& register_buffer(const std::string& name, Tensor t, bool counter = false);
  // Marks a registered parameter of this module as never weight-decayed.
  void exclude_from_weight_decay(const std::string& name);

 protected:
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

  bool training_ = true;

 private:
  void collect(const std::string& prefix, NamedTensors& out, bool params) const;

  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  std::vector<ForwardHook> hooks_;
  std::set<std::string> no_decay_;
  std::set<std::string> counters_;
};

}  // namespace nl
