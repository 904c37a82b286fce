// One recorded operation of the graph. A forward op that produced `out` from inputs (a, b, ...)
// leaves on `out` a Node holding an Edge to each input and a backward function mapping dL/dout
// to (dL/da, dL/db, ...). Saved tensors are captured detached, so the graph has no cycles.
//
// An Edge names where a gradient goes - the Node that computed the input, or the input itself
// when it is a leaf - and never holds an intermediate tensor's storage: between forward and
// backward only what some backward function saved stays alive (as in PyTorch), not every
// activation the forward pass made.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace nl {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out)>;

struct Edge {
  std::shared_ptr<Node> node = {};        // the input was computed by this node, or
  std::shared_ptr<TensorImpl> leaf = {};  // the input is a leaf that requires grad
  Shape shape = {};                       // the input's shape, checked against its gradient
  bool defined() const { return node || leaf; }
};

struct Node {
  std::string name;          // op name, shown in error messages ("conv2d", "mul", ...)
  std::string layer;         // recording module's type, set only while profiling
  std::vector<Edge> inputs;  // grads flow to these (undefined entries are skipped)
  BackwardFn backward;
  // The tensor this node computed, while someone still holds it (for retain_grad), and the
  // hooks registered on it (they run even after that tensor is dropped, as in PyTorch).
  std::weak_ptr<TensorImpl> output;
  std::vector<GradHook> hooks;
  bool freed = false;  // backward() ran through it and released it
};

// True while gradients are recorded (false inside a NoGradGuard).
bool grad_enabled();

// Disables graph recording in its scope, like `with torch.no_grad():`.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// If grads are on and any input requires grad, attaches a Node to `out` and marks it
// requires_grad. Returns `out` so ops can `return record(...)`.
Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs, BackwardFn backward);

}  // namespace nl
