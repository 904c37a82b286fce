#include "layers/norm/reference/position_norm_reference.hpp"

#include "autograd/ops.hpp"

namespace nl::reference {

Tensor position_norm_composite(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                               const char* name, NormMath math) {
  check(x.dim() >= 2, name, "expected input (N, C, ...), got ", shape_str(x.shape()));
  const int64_t n = x.shape()[0], c = x.shape()[1], l = x.numel() / std::max<int64_t>(n * c, 1);
  const Tensor rows = x.view({n, c, l}).permute({0, 2, 1}).contiguous().view({n * l, c});
  const Tensor y =
      plane_norm(rows, gamma, beta, StatLayout::of(rows, 1, 1, name), eps, nullptr, name, math).y;
  return y.view({n, l, c}).permute({0, 2, 1}).contiguous().view(x.shape());
}

}  // namespace nl::reference
