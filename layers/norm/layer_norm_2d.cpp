#include "layers/norm/layer_norm_2d.hpp"

#include "layers/norm/affine.hpp"
#include "layers/norm/position_norm.hpp"
#include "layers/norm/registry.hpp"

namespace nl {

LayerNorm2d::LayerNorm2d(int64_t c, LayerNorm2dOptions o) : num_channels(c), options(o) {
  check(c > 0, o.name, "num_channels must be positive, got ", c);
  check(o.eps > 0 || o.math.subtract_mean, o.name, "eps must be > 0 without mean subtraction");
  std::tie(weight, bias) = register_affine(*this, c, o.affine, o.bias);
}

Tensor LayerNorm2d::forward(const Tensor& x) {
  const char* name = options.name;
  check(x.dim() == 4 && x.shape()[1] == num_channels, name, "expected input (N, ", num_channels,
        ", H, W), got ", shape_str(x.shape()));
  check(num_channels > 1 || !options.math.subtract_mean, name,
        "needs more than 1 channel to take a mean over channels");
  return position_norm(x, weight, bias, options.eps, name, options.math);
}

NORMLAB_NORM(ln2d) {
  const LayerNorm2dOptions d;
  return {.name = "ln2d",
          .family = NormFamily::position,
          .summary =
              "LayerNorm2d (ConvNeXt): per sample and position over the C channels, "
              "per-channel affine",
          .options = {NormOption::number("eps", d.eps, kEps, "added to the variance"),
                      NormOption::flag("affine", d.affine, "learned per-channel gamma and beta")},
          .build = [](const NormArgs& a, int64_t c) {
            LayerNorm2dOptions o;
            o.eps = a.number("eps");
            o.affine = o.bias = a.flag("affine");
            return NormSlot{std::make_shared<LayerNorm2d>(c, o)};
          }};
}

NORMLAB_NORM(pono) {
  return {
      .name = "pono",
      .family = NormFamily::position,
      .summary = "Positional Normalization: per position over C, no affine",
      .options = {NormOption::number("eps", 1e-5, kEps, "added to the variance")},
      .build = [](const NormArgs& a, int64_t c) {
        return NormSlot{std::make_shared<LayerNorm2d>(c, positional_norm_options(a.number("eps")))};
      }};
}

NORMLAB_NORM(rms2d) {
  return {.name = "rms2d",
          .family = NormFamily::position,
          .summary = "RmsNorm2d (timm): per position x / sqrt(mean_C x^2 + eps), per-channel gain",
          .options = {NormOption::number("eps", 1e-6, kEps, "added to the mean square"),
                      NormOption::flag("affine", true, "learned per-channel gain")},
          .build =
              [](const NormArgs& a, int64_t c) {
                return NormSlot{std::make_shared<LayerNorm2d>(
                    c, rms_norm_2d_options(a.number("eps"), a.flag("affine")))};
              },
          .page = "rms"};
}

}  // namespace nl
