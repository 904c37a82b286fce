// Reverse-mode engine. backward() on a scalar L:
//   1. topologically sort every node and leaf reachable from L through the nodes' input edges,
//   2. walk that order from L down, calling each node's backward with the accumulated dL/dout,
//   3. add results into the inputs' pending grads (a tensor used twice receives two terms),
//   4. leaves with requires_grad accumulate into .grad; each node's saved tensors are released
//      as soon as its backward has run.
#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "autograd/node.hpp"
#include "autograd/profiler.hpp"
#include "core/kernels.hpp"
#include "core/parallel.hpp"

namespace nl {
namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() {
  return g_grad_enabled;
}
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) {
  g_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  g_grad_enabled = previous_;
}

Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!g_grad_enabled) return out;
  std::vector<Edge> edges(inputs.size());
  bool any = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined() || !t.requires_grad()) continue;  // no gradient needed for this input
    any = true;
    if (t.impl().grad_fn)
      edges[i] = {.node = t.impl().grad_fn, .shape = t.shape()};
    else
      edges[i] = {.leaf = t.impl_ptr(), .shape = t.shape()};
  }
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  if (profiler::enabled()) node->layer = profiler::current_layer();
  node->inputs = std::move(edges);
  node->backward = std::move(backward);
  node->output = out.impl_ptr();
  out.impl().grad_fn = std::move(node);
  out.impl().requires_grad = true;
  return out;
}

Tensor& Tensor::requires_grad_(bool on) {
  check(!on || !impl().grad_fn, "requires_grad_",
        "only leaf tensors can be marked; this one was "
        "produced by ",
        impl().grad_fn ? impl().grad_fn->name : "");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  return impl().grad ? Tensor(impl().grad) : Tensor();
}
void Tensor::zero_grad() {
  impl().grad.reset();
}
void Tensor::retain_grad() {
  impl().retains_grad = true;
}
void Tensor::register_hook(GradHook hook) {
  check(requires_grad(), "register_hook", "the tensor does not require grad");
  if (impl().grad_fn)
    impl().grad_fn->hooks.push_back(std::move(hook));  // runs even if this tensor is dropped
  else
    impl().hooks.push_back(std::move(hook));
}

Tensor Tensor::detach() const {
  Tensor t = make_view(*this, shape(), strides(), offset());
  return t;
}

namespace {

// The walk's vertices are edges: a node, or a leaf tensor that receives its gradient in .grad.
const void* key(const Edge& e) {
  return e.node ? static_cast<const void*>(e.node.get()) : e.leaf.get();
}

// Holds shared pointers: releasing a node must not free one the walk still visits.
std::vector<Edge> topological_order(const Edge& root) {
  // Iterative post-order DFS: deep ResNets would overflow a recursive one.
  std::vector<Edge> order;
  std::unordered_set<const void*> seen{key(root)};
  std::vector<std::pair<Edge, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [v, next] = stack.back();
    if (v.node && next < v.node->inputs.size()) {
      const Edge& in = v.node->inputs[next++];
      if (in.defined() && seen.insert(key(in)).second) stack.push_back({in, 0});
      continue;
    }
    order.push_back(std::move(v));
    stack.pop_back();
  }
  return order;  // inputs before the vertices computed from them
}

Tensor run_hooks(const std::vector<GradHook>& hooks, Tensor g) {
  for (const auto& hook : hooks) {
    Tensor replaced = hook(g);
    if (replaced.defined()) g = replaced;
  }
  return g;
}

void accumulate(std::shared_ptr<TensorImpl>& slot, const Tensor& g) {
  if (!slot) {
    // Steal the incoming buffer when nothing else views it (PyTorch does the same); otherwise
    // own a copy, since it may alias a saved tensor or another gradient.
    if (g.impl().storage.use_count() == 1 && g.is_contiguous()) {
      slot = g.detach().impl_ptr();
    } else {
      slot = g.clone().impl_ptr();
    }
    return;
  }
  Tensor acc(slot);
  if (acc.is_contiguous() && g.is_contiguous() && acc.shape() == g.shape() &&
      acc.dtype() == g.dtype()) {
    dispatch(acc.dtype(), [&]<typename T>() {  // in place: one pass, no allocation
      T* a = acc.data<T>();
      const T* b = g.data<T>();
      parallel_for(acc.numel(), kElementwiseGrain, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) a[i] += b[i];
      });
    });
    return;
  }
  acc.copy_(kernels::binary(kernels::Binary::add, acc, g));
}

}  // namespace

void Tensor::backward(const Tensor& grad_in, bool retain_graph) const {
  check(!impl().graph_freed, "backward",
        "trying to backward through the graph a second time: the first backward() freed it. "
        "Run the forward again, or pass retain_graph = true to the first backward()");
  check(requires_grad(), "backward",
        "the tensor does not require grad (was it computed under "
        "NoGradGuard, or from tensors without requires_grad?)");
  Tensor seed = grad_in;
  if (!seed.defined()) {
    check(numel() == 1, "backward", "an implicit gradient needs a scalar output, got ",
          shape_str(shape()), "; pass the gradient explicitly");
    seed = Tensor::ones(shape(), dtype());
  }
  check(seed.shape() == shape(), "backward", "gradient shape ", shape_str(seed.shape()),
        " does not match output shape ", shape_str(shape()));

  NoGradGuard no_grad;  // backward functions are not themselves recorded
  std::vector<Edge> order = topological_order(
      {.node = impl().grad_fn, .leaf = impl().grad_fn ? nullptr : impl_, .shape = shape()});
  std::unordered_map<const void*, Tensor> pending{{key(order.back()), seed}};
  const char* again =
      "trying to backward through part of a graph a second time: an earlier backward() freed "
      "it. Run the forward again, or pass retain_graph = true to that backward()";
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Edge v = std::move(*it);  // the walk lets go of each vertex as it passes
    auto found = pending.find(key(v));
    if (found == pending.end()) continue;
    Tensor g = found->second;
    pending.erase(found);
    if (v.leaf) {
      TensorImpl* t = v.leaf.get();
      g = run_hooks(t->hooks, g);
      check(!t->graph_freed, "backward", again);
      if (t->requires_grad) accumulate(t->grad, g);
      continue;
    }
    Node* node = v.node.get();
    check(!node->freed, "backward", again);
    g = run_hooks(node->hooks, g);
    const std::shared_ptr<TensorImpl> out = node->output.lock();
    if (out && out->retains_grad) accumulate(out->grad, g);
    if (out && !retain_graph) {
      out->grad_fn.reset();
      out->graph_freed = true;
    }
    const bool timed = profiler::enabled();  // read the clock only while profiling
    const auto started =
        timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    std::vector<Tensor> grads = node->backward(g);
    if (timed)
      profiler::add_backward(
          node->layer,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    check(grads.size() == node->inputs.size(), "backward", node->name, " returned ", grads.size(),
          " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& in = node->inputs[i];
      if (!in.defined() || !grads[i].defined()) continue;
      check(grads[i].shape() == in.shape, "backward", node->name, " produced a gradient of shape ",
            shape_str(grads[i].shape()), " for input ", i, " of shape ", shape_str(in.shape));
      auto [slot, inserted] = pending.try_emplace(key(in), grads[i]);
      if (!inserted) slot->second = kernels::binary(kernels::Binary::add, slot->second, grads[i]);
    }
    if (!retain_graph) {  // free the saved tensors now, not at the end of the pass
      node->backward = nullptr;
      node->inputs.clear();
      node->hooks.clear();
      node->freed = true;
    }
  }
}

}  // namespace nl
