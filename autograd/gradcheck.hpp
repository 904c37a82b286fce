// Strict numerical gradient check (dlib style), in float64.
//
// For a function f and inputs x_1..x_k, draw a random projection r of f's output shape and
// compare, for every element j of every input,
//   analytic  d<f(x), r>/dx_j        (one backward pass)
//   numeric   (<f(x + h e_j), r> - <f(x - h e_j), r>) / 2h   (central differences)
// and require |analytic - numeric| <= atol + rtol * |numeric|. The projection makes every output
// element matter, so a backward that is wrong anywhere is caught.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace nl {

struct GradcheckOptions {
  double step = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;
  std::vector<std::string> input_names;  // used in the message instead of "input i" when given
};

struct GradcheckResult {
  bool ok = true;
  double worst_error = 0;  // max |analytic - numeric| - tolerance over all elements, if > 0
  std::string message;     // names the worst element: input, index, both values
};

// Every input must be a contiguous float64 leaf with requires_grad set. The inputs are perturbed
// in place and restored.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});

}  // namespace nl
