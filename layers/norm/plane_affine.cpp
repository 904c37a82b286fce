#include "layers/norm/plane_affine.hpp"

#include "autograd/node.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_stats.hpp"

namespace nl {

Tensor plane_affine(const Tensor& x_in, const Tensor& scale, const Tensor& shift,
                    const char* name) {
  check(x_in.dim() >= 2, name, "expected input (N, C, ...), got ", shape_str(x_in.shape()));
  const int64_t n = x_in.shape()[0], c = x_in.shape()[1];
  const bool per_sample = scale.dim() == 2;
  check((per_sample && scale.shape() == Shape{n, c}) || scale.shape() == Shape{c}, name,
        "scale of shape ", shape_str(scale.shape()), " fits neither (", n, ", ", c, ") nor (", c,
        ")");
  if (shift.defined())
    check(shift.shape() == Shape{c}, name, "shift of shape ", shape_str(shift.shape()),
          " does not match ", c, " channels");
  const Tensor x = x_in.detach().contiguous();
  const StatLayout planes = StatLayout::of(x, c, 1, name);  // every plane on its own
  // Per-plane coefficients of the core's apply pass: y = a x + k.
  const std::vector<double> sv = scale.to_vector();
  const std::vector<double> bv = affine_values(shift, c, 0.0);
  std::vector<double> a(n * c), k(n * c);
  for (int64_t s = 0, p = 0; s < n; ++s)
    for (int64_t ch = 0; ch < c; ++ch, ++p) {
      a[p] = per_sample ? sv[p] : sv[ch];
      k[p] = bv[ch];
    }
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  apply_planes(planes, x, Tensor(), a, {}, k, y);

  return record(y, name, {x_in, scale, shift}, [=](const Tensor& gy) {
    const Tensor dy = gy.contiguous();
    // sum dy (x - 0) per plane: the core's backward sums about a zero mean.
    const PlaneGradSums sums = plane_grad_sums(planes, x, dy, std::vector<double>(n * c, 0.0));
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    apply_planes(planes, dy, Tensor(), a, {}, std::vector<double>(n * c, 0.0), dx);
    std::vector<double> dscale(per_sample ? n * c : c, 0.0), dshift(c, 0.0);
    for (int64_t s = 0, p = 0; s < n; ++s)
      for (int64_t ch = 0; ch < c; ++ch, ++p) {
        dscale[per_sample ? p : ch] += sums.sum_dy_xc[p];
        dshift[ch] += sums.sum_dy[p];
      }
    return std::vector<Tensor>{
        dx, Tensor::from_vector(dscale, scale.shape(), scale.dtype()),
        shift.defined() ? Tensor::from_vector(dshift, {c}, shift.dtype()) : Tensor()};
  });
}

}  // namespace nl
