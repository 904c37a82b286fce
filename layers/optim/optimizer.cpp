#include "layers/optim/optimizer.hpp"

#include <cmath>
#include <cstdio>
#include <tuple>

#include "autograd/node.hpp"
#include "core/parallel.hpp"
#include "layers/optim/grad_clip.hpp"

namespace nl {

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  check(!groups_.empty(), "Optimizer", "no parameter groups");
  for (auto& g : groups_) {
    check(g.lr >= 0 && g.weight_decay >= 0, "Optimizer", "lr and weight_decay must be >= 0");
    check(g.agc_clip >= 0, "Optimizer", "agc_clip must be >= 0 (0 = off), got ", g.agc_clip);
    for (auto& p : g.params)
      check(p.defined() && p.requires_grad() && p.is_contiguous(), "Optimizer",
            "parameters must be contiguous tensors that require grad");
  }
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

void Optimizer::clip_gradients() {
  for (auto& g : groups_)
    if (g.agc_clip > 0) adaptive_clip_grad_(g.params, g.agc_clip, g.agc_eps);
}

Tensor& Optimizer::buffer(size_t g, size_t i, const std::string& name, bool* created, bool scalar) {
  const std::string key = "state." + std::to_string(g) + "." + std::to_string(i) + "." + name;
  auto it = state_.find(key);
  if (created) *created = it == state_.end();
  if (it == state_.end()) {
    const Tensor& p = groups_[g].params[i];
    it = state_.emplace(key, Tensor::zeros(scalar ? Shape{} : p.shape(), p.dtype())).first;
  }
  return it->second;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out = state_;
  for (size_t g = 0; g < groups_.size(); ++g) {
    out["group." + std::to_string(g) + ".lr"] = Tensor::scalar(groups_[g].lr, DType::f64);
    out["group." + std::to_string(g) + ".momentum"] =
        Tensor::scalar(groups_[g].momentum, DType::f64);
  }
  out["steps"] = Tensor::scalar(double(steps_), DType::f64);
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  // Validate everything before changing anything: a checkpoint written for other parameter
  // groups (e.g. --wd-skip-norm-bias splits them differently) must be refused, not indexed.
  const auto setting = [&](size_t g, const char* name) -> const Tensor& {
    auto it = state.find("group." + std::to_string(g) + "." + name);
    check(it != state.end(), "Optimizer::load_state_dict", "the state has no '", name,
          "' for parameter group ", g, " (it was saved for ", count_groups(state),
          " group(s); this optimizer has ", groups_.size(), ")");
    check(it->second.numel() == 1 && std::isfinite(it->second.item()), "Optimizer::load_state_dict",
          "group.", g, ".", name, " must be one finite number");
    return it->second;
  };
  check(count_groups(state) == groups_.size(), "Optimizer::load_state_dict", "the state has ",
        count_groups(state), " parameter group(s), this optimizer has ", groups_.size(),
        " (were the parameter groups built with other settings?)");
  std::map<std::string, Tensor> buffers;
  for (auto& [k, t] : state) {
    if (k.rfind("group.", 0) == 0 || k == "steps") continue;
    size_t g = 0, i = 0;
    char name[64] = {};
    int used = 0;
    const bool parsed = k.rfind("state.", 0) == 0 &&
                        std::sscanf(k.c_str(), "state.%zu.%zu.%63s%n", &g, &i, name, &used) == 3 &&
                        size_t(used) == k.size();
    check(parsed, "Optimizer::load_state_dict", "unexpected entry '", k, "'");
    check(g < groups_.size() && i < groups_[g].params.size(), "Optimizer::load_state_dict", "'", k,
          "' names parameter ", i, " of group ", g, ", which has only ",
          g < groups_.size() ? groups_[g].params.size() : 0, " parameter(s)");
    const Tensor& p = groups_[g].params[i];
    const bool scalar = std::string(name) == "step";
    const Shape want = scalar ? Shape{} : p.shape();
    check(t.shape() == want && t.dtype() == p.dtype(), "Optimizer::load_state_dict", "'", k,
          "' has shape ", shape_str(t.shape()), " and dtype ", dtype_name(t.dtype()),
          ", the parameter needs ", shape_str(want), " and ", dtype_name(p.dtype()));
    buffers[k] = t.clone();
  }
  std::vector<std::pair<double, double>> settings;
  for (size_t g = 0; g < groups_.size(); ++g)
    settings.emplace_back(setting(g, "lr").item(), setting(g, "momentum").item());
  auto st = state.find("steps");
  check(st == state.end() || (st->second.numel() == 1 && st->second.item() >= 0),
        "Optimizer::load_state_dict", "'steps' must be one non-negative number");

  state_ = std::move(buffers);
  for (size_t g = 0; g < groups_.size(); ++g)
    std::tie(groups_[g].lr, groups_[g].momentum) = settings[g];
  steps_ = st == state.end() ? 0 : static_cast<int64_t>(st->second.item());
}

size_t Optimizer::count_groups(const std::map<std::string, Tensor>& state) {
  size_t n = 0;
  while (state.count("group." + std::to_string(n) + ".lr")) ++n;
  return n;
}

namespace {
// Runs fn(p, g, n) on each parameter with a gradient, with raw pointers of its dtype.
template <typename Fn>
void for_each_param(ParamGroup& group, Fn fn) {
  for (size_t i = 0; i < group.params.size(); ++i) {
    Tensor& p = group.params[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    fn(i, p, g.contiguous());
  }
}
}  // namespace

void SGD::step() {
  NoGradGuard no_grad;
  clip_gradients();
  ++steps_;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& G = groups_[gi];
    for_each_param(G, [&](size_t i, Tensor& p, const Tensor& grad) {
      bool first = false;
      Tensor* buf = G.momentum != 0 ? &buffer(gi, i, "momentum_buffer", &first) : nullptr;
      dispatch(p.dtype(), [&]<typename T>() {
        T* w = p.data<T>();
        const T* g = grad.data<T>();
        T* b = buf ? buf->data<T>() : nullptr;
        const T lr = T(G.lr), wd = T(G.weight_decay), mom = T(G.momentum),
                damp = T(1 - G.dampening);
        parallel_for(p.numel(), kElementwiseGrain, [&](int64_t s, int64_t e) {
          for (int64_t j = s; j < e; ++j) {
            T d = g[j] + wd * w[j];
            if (b) {
              b[j] = first ? d : mom * b[j] + damp * d;
              d = G.nesterov ? d + mom * b[j] : b[j];
            }
            w[j] -= lr * d;
          }
        });
      });
    });
  }
}

Adam::Adam(std::vector<ParamGroup> groups, bool decoupled)
    : Optimizer(std::move(groups)), decoupled_(decoupled) {
  for (auto& g : groups_)
    if (g.momentum == 0) g.momentum = 0.9;  // beta1 default
}

void Adam::step() {
  NoGradGuard no_grad;
  clip_gradients();
  ++steps_;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& G = groups_[gi];
    for_each_param(G, [&](size_t i, Tensor& p, const Tensor& grad) {
      Tensor& m = buffer(gi, i, "exp_avg");
      Tensor& v = buffer(gi, i, "exp_avg_sq");
      Tensor& t_buf =
          buffer(gi, i, "step", nullptr, true);  // per parameter, like PyTorch's state['step']
      dispatch(p.dtype(), [&]<typename T>() {
        const double t = t_buf.data<T>()[0] + 1;
        t_buf.fill_(t);
        T* w = p.data<T>();
        const T* g = grad.data<T>();
        T* pm = m.data<T>();
        T* pv = v.data<T>();
        const T b1 = T(G.momentum), b2 = T(G.beta2), lr = T(G.lr), wd = T(G.weight_decay);
        const T c1 = T(1 - std::pow(G.momentum, t)), c2 = T(1 - std::pow(G.beta2, t));
        const T eps = T(G.eps);
        const bool decoupled = decoupled_;
        parallel_for(p.numel(), kElementwiseGrain, [&](int64_t s, int64_t e) {
          for (int64_t j = s; j < e; ++j) {
            T d = g[j];
            if (decoupled)
              w[j] *= T(1) - lr * wd;
            else
              d += wd * w[j];
            pm[j] = b1 * pm[j] + (T(1) - b1) * d;
            pv[j] = b2 * pv[j] + (T(1) - b2) * d * d;
            w[j] -= lr * (pm[j] / c1) / (std::sqrt(pv[j] / c2) + eps);
          }
        });
      });
    });
  }
}

}  // namespace nl
