#include "layers/norm/layer_norm.hpp"

#include "autograd/ops.hpp"
#include "layers/norm/group_norm.hpp"
#include "layers/norm/plane_norm.hpp"
#include "layers/norm/registry.hpp"

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

NORMLAB_NORM(ln) {
  return {.name = "ln",
          .family = NormFamily::sample,
          .summary =
              "LayerNorm of the papers: per sample over (C,H,W), per-channel affine (= "
              "GroupNorm(1)); ln:elementwise is PyTorch's LayerNorm([C,H,W])",
          .options = {NormOption::number("eps", 1e-5, kEps, "added to the variance"),
                      NormOption::flag("affine", true, "learned gamma and beta"),
                      NormOption::flag("elementwise", false,
                                       "PyTorch's LayerNorm([C,H,W]): a gamma and beta per element "
                                       "(needs the slot's {H, W})")},
          .build = [](const NormArgs& a, int64_t c) {
            const double eps = a.number("eps");
            const bool affine = a.flag("affine");
            if (!a.flag("elementwise"))
              return NormSlot{std::make_shared<GroupNorm>(1, c, eps, affine)};
            check(a.spatial.size() == 2, "norm spec",
                  "'ln:elementwise' needs the feature-map size {H, W} of its slot; models pass it, "
                  "direct callers use make_norm(spec, C, {H, W})");
            return NormSlot{
                std::make_shared<LayerNorm>(Shape{c, a.spatial[0], a.spatial[1]}, eps, affine)};
          }};
}

}  // namespace nl
