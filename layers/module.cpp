#include "layers/module.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "autograd/node.hpp"
#include "autograd/profiler.hpp"

namespace nl {

Tensor Module::operator()(const Tensor& x) {
  Tensor y;
  {
    profiler::ForwardScope timed(profiler::enabled() ? type_name() : std::string());
    y = forward(x);
  }
  for (auto& h : hooks_) h(*this, x, y);
  return y;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, c] : children_) c->train(on);
}

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  t.requires_grad_(true);
  params_.emplace_back(name, t);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t, bool counter) {
  if (counter) counters_.insert(name);
  buffers_.emplace_back(name, t);
  return buffers_.back().second;
}

void Module::exclude_from_weight_decay(const std::string& name) {
  const bool known = std::any_of(params_.begin(), params_.end(),
                                 [&](const auto& entry) { return entry.first == name; });
  check(known, type_name().c_str(), "exclude_from_weight_decay: no parameter named '", name, "'");
  no_decay_.insert(name);
}

std::set<std::string> Module::no_weight_decay() const {
  std::set<std::string> out(no_decay_);
  for (auto& [name, m] : named_modules())
    for (const std::string& n : m->no_decay_) out.insert(name + "." + n);
  return out;
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool params) const {
  for (const auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", out, params);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, true);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, false);
  return out;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules() const {
  std::vector<std::pair<std::string, ModulePtr>> out;
  std::function<void(const std::string&, const Module&)> walk = [&](const std::string& prefix,
                                                                    const Module& m) {
    for (const auto& [n, c] : m.children_) {
      const std::string name = prefix.empty() ? n : prefix + "." + n;
      out.emplace_back(name, c);
      walk(name, *c);
    }
  };
  walk("", *this);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out[n] = t.detach();
  for (auto& [n, t] : named_buffers()) out[n] = t.detach();
  return out;
}

std::set<std::string> Module::counter_buffers() const {
  std::set<std::string> out;
  for (auto& [prefix, m] : named_modules())
    for (const std::string& name : m->counters_)
      out.insert(prefix.empty() ? name : prefix + "." + name);
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state) {
  NoGradGuard no_grad;
  // Everything is checked before anything is copied, so a refused state leaves the model as it
  // was (strict, as PyTorch's load_state_dict(strict=True)).
  auto own = state_dict();
  for (auto& [name, t] : own) {
    auto it = state.find(name);
    check(it != state.end(), "load_state_dict", "missing key '", name,
          "' (was the state saved from another model or normalizer?)");
    check(it->second.shape() == t.shape(), "load_state_dict", "'", name, "' has shape ",
          shape_str(it->second.shape()), " in the checkpoint but ", shape_str(t.shape()),
          " in the model");
  }
  for (auto& [name, _] : state)
    check(own.count(name) > 0, "load_state_dict", "unexpected key '", name,
          "' (was the state saved from another model or normalizer?)");
  for (auto& [name, t] : own) t.copy_(state.at(name));
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.zero_grad();
}

void Module::to(DType dtype) {
  auto convert = [dtype](Tensor& t) {
    if (t.dtype() == dtype) return;
    Tensor c = t.detach().to(dtype);
    TensorImpl& impl = t.impl();
    impl.storage = c.impl().storage;
    impl.strides = c.strides();
    impl.offset = 0;
    impl.dtype = dtype;
    impl.grad.reset();
  };
  for (auto& [_, t] : params_) convert(t);
  for (auto& [_, t] : buffers_) convert(t);
  for (auto& [_, c] : children_) c->to(dtype);
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& t : parameters()) n += t.numel();
  return n;
}

std::string Module::tree(int indent) const {
  std::ostringstream os;
  os << describe();
  if (!children_.empty()) {
    os << " (\n";
    for (auto& [n, c] : children_)
      os << std::string(indent + 2, ' ') << "(" << n << "): " << c->tree(indent + 2) << "\n";
    os << std::string(indent, ' ') << ")";
  }
  return os.str();
}

}  // namespace nl
