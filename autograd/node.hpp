// One recorded operation of the graph. A forward op that produced `out` from inputs (a, b, ...)
// leaves on `out` a Node holding those inputs and a backward function mapping dL/dout to
// (dL/da, dL/db, ...). Saved tensors are captured detached, so the graph has no cycles.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace nl {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out)>;

struct Node {
  std::string name;            // op name, shown in error messages ("conv2d", "mul", ...)
  std::string layer;           // recording module's type, set only while profiling
  std::vector<Tensor> inputs;  // grads flow to these (undefined entries are skipped)
  BackwardFn backward;
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
