#include "layers/norm/layer_norm.hpp"

#include "autograd/ops.hpp"
#include "layers/norm/plane_norm.hpp"

namespace nl {

LayerNorm::LayerNorm(Shape shape, double eps_, bool affine, bool with_bias)
    : normalized_shape(std::move(shape)), eps(eps_) {
  check(!normalized_shape.empty(), "LayerNorm", "normalized_shape must not be empty");
  for (int64_t d : normalized_shape)
    check(d > 0, "LayerNorm", "normalized_shape ", shape_str(normalized_shape),
          " has a non-positive size");
  if (affine) {
    weight = register_parameter("weight", Tensor::ones(normalized_shape));
    if (with_bias) bias = register_parameter("bias", Tensor::zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  const int64_t d = int64_t(normalized_shape.size());
  bool matches = x.dim() >= d;
  for (int64_t i = 0; matches && i < d; ++i)
    matches = x.shape()[x.dim() - d + i] == normalized_shape[i];
  check(matches, "LayerNorm", "Given normalized_shape=", shape_str(normalized_shape),
        ", expected input with shape [*, ", shape_str(normalized_shape).substr(1), ", got ",
        shape_str(x.shape()));
  int64_t inner = 1;
  for (int64_t s : normalized_shape) inner *= s;
  const int64_t outer = x.numel() / inner;
  const Tensor rows = x.reshape({outer, 1, inner});
  const StatLayout layout = StatLayout::of(rows, 1, 1, "LayerNorm");
  Tensor y = plane_norm(rows, Tensor(), Tensor(), layout, eps, nullptr, "LayerNorm").y;
  y = y.reshape(x.shape());
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

std::string LayerNorm::describe() const {
  return "LayerNorm(" + shape_str(normalized_shape) + ", eps=" + std::to_string(eps) +
         ", elementwise_affine=" + (weight.defined() ? "True" : "False") + ")";
}

}  // namespace nl
