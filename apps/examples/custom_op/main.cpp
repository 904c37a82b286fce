// A differentiable op of your own with a hand-written backward, checked by gradcheck:
//   softplus(x) = log(1 + exp(x)),  d softplus / dx = sigmoid(x)
// record() attaches the backward to the output; gradcheck compares it with central differences
// along a random projection, in float64. A wrong backward (here: exp(x)) is caught.
#include <cmath>
#include <cstdio>
#include <normlab/normlab.hpp>

// The forward computes without recording (NoGradGuard); record() then adds one node whose
// backward maps dL/dy to dL/dx = dL/dy * sigmoid(x).
nl::Tensor softplus(const nl::Tensor& x, bool wrong_backward = false) {
  nl::Tensor y;
  {
    nl::NoGradGuard no_grad;
    // Stable form: max(x, 0) + log(1 + exp(-|x|)).
    y = nl::relu(x) + nl::log(nl::exp(-nl::abs(x)) + 1.0);
  }
  const nl::Tensor saved = x.detach();
  return nl::record(y, "softplus", {x}, [saved, wrong_backward](const nl::Tensor& grad_out) {
    const nl::Tensor slope = wrong_backward ? nl::exp(saved) : nl::sigmoid(saved);
    return std::vector<nl::Tensor>{grad_out * slope};
  });
}

int main() {
  nl::manual_seed(0);
  nl::Tensor x = nl::Tensor::randn({5, 7}, nl::DType::f64);
  x.requires_grad_();
  const auto f = [](bool wrong) {
    return [wrong](const std::vector<nl::Tensor>& in) { return softplus(in[0], wrong); };
  };
  const nl::GradcheckResult good = nl::gradcheck(f(false), {x});
  const nl::GradcheckResult bad = nl::gradcheck(f(true), {x});
  std::printf("softplus backward: %s\n", good.ok ? "passes gradcheck" : good.message.c_str());
  std::printf("a wrong backward:  %s\n", bad.ok ? "passes (it should not!)" : bad.message.c_str());
  return good.ok && !bad.ok ? 0 : 1;
}
