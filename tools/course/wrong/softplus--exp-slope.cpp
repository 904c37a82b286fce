// Hidden wrong implementation: the backward uses exp(x) instead of sigmoid(x).
// Must fail "backward matches central differences".
#include "softplus.hpp"

namespace course {

nl::Tensor softplus(const nl::Tensor& x) {
  nl::Tensor y;
  {
    nl::NoGradGuard no_grad;
    y = nl::relu(x) + nl::log(nl::exp(-nl::abs(x)) + 1.0);
  }
  const nl::Tensor saved = x.detach();
  return nl::record(y, "softplus", {x}, [saved](const nl::Tensor& grad_y) {
    return std::vector<nl::Tensor>{grad_y * nl::exp(saved)};
  });
}

}  // namespace course
