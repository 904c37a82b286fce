#include "softplus.hpp"

#include "grader/grader.hpp"

namespace course {

nl::Tensor softplus(const nl::Tensor& x) {
  // TODO: y = softplus(x) without recording (NoGradGuard), then
  //       return nl::record(y, "softplus", {x}, [...](const nl::Tensor& grad_y) { ... });
  (void)x;
  todo("softplus");
}

}  // namespace course
