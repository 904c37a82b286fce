// Weight-side normalizers: a convolution or linear layer keeps its raw weight V as the trained
// parameter and uses W = f(V) in every forward; gradients reach V (and f's own parameters)
// through f's backward. A module that owns one applies it with `effective_weight`.
//
// Each output row v_o (the C_in/groups * kh * kw weights of output channel o, F of them) is
// normalized on its own. Four published transforms are the shared activation-norm core run on
// the weight viewed as (1, C_out, F), i.e. InstanceNorm's layout with the rows as planes:
//   wn   Weight Normalization (Salimans & Kingma 2016)      W_o = g_o v_o / ||v_o||
//   cwn  Centered Weight Normalization (Huang et al. 2017)  W_o = g_o (v_o - mean) / ||v_o - mean||
//   ws   Weight Standardization (Qiao et al. 2019)          W_o = (v_o - mean) / sqrt(var + eps)
//   sws  Scaled WS (Brock et al. 2021, NF-Nets)             W_o = gain_o gamma (v_o - mean) /
//   (sqrt(var + eps) sqrt(F)) wc   weight centralization                             W_o = v_o -
//   mean
// using ||u|| = sqrt(F) sqrt(mean u^2): wn is the core's uncentred math with eps = 0 and a
// per-row gain g / sqrt(F), cwn the centred math with the same gain, wc the mean-only math.
// So all of them inherit the core's hand-derived backward (docs/norms/bn.md, plane_norm.hpp);
// the per-row gains are (C_out)-sized products.
//
// ws has two eps conventions: eps inside the root with the biased variance (timm StdConv2d,
// the default) or Qiao et al.'s code, unbiased std + eps outside (`eps_outside`, written with
// differentiable ops). docs/norms/weight-norms.md.
#pragma once
#include <optional>

#include "layers/module.hpp"

namespace nl {

enum class WeightNormKind { wn, cwn, ws, sws, wc };

struct WeightNormalizerOptions {
  WeightNormKind kind = WeightNormKind::ws;
  double eps = 1e-6;         // ws / sws
  bool eps_outside = false;  // ws: Qiao et al.'s (v - mean) / (std_unbiased + eps)
  double gamma = 1.7139;     // sws: ReLU gain sqrt(2 / (1 - 1/pi)), Brock et al.
};

// forward(raw weight) -> effective weight of the same shape.
class WeightNormalizer : public Module {
 public:
  // `raw` is the layer's weight at attach time: wn and cwn initialise g so that W = V (wn) or
  // W = V - mean (cwn) at the start, as PyTorch's weight_norm does.
  WeightNormalizer(const Tensor& raw, WeightNormalizerOptions options);
  Tensor forward(const Tensor& raw) override;
  std::string type_name() const override;
  // Re-derives g from `raw` (wn, cwn) after the layer's weight was re-initialised.
  void reset_gain(const Tensor& raw);

  WeightNormalizerOptions options;
  Tensor gain;  // g (wn, cwn) or the sws gain; undefined for ws and wc
};

// Parses a weight-side name ("wn", "cwn", "ws", "sws", "wc"); nullopt for anything else.
std::optional<WeightNormKind> weight_norm_kind(const std::string& name);

}  // namespace nl
