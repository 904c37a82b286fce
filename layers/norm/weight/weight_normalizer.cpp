#include "layers/norm/weight/weight_normalizer.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "layers/activation.hpp"
#include "layers/norm/plane_norm.hpp"
#include "layers/norm/registry.hpp"

namespace nl {
namespace {

// The weight as (1, C_out, F): one plane per output row.
Tensor as_rows(const Tensor& w) {
  check(w.dim() >= 2, "WeightNormalizer", "expected a weight (C_out, ...), got ",
        shape_str(w.shape()));
  return w.reshape({1, w.shape()[0], w.numel() / w.shape()[0]});
}

}  // namespace

std::optional<WeightNormKind> weight_norm_kind(const std::string& name) {
  if (name == "wn") return WeightNormKind::wn;
  if (name == "cwn") return WeightNormKind::cwn;
  if (name == "ws") return WeightNormKind::ws;
  if (name == "sws") return WeightNormKind::sws;
  if (name == "wc") return WeightNormKind::wc;
  return std::nullopt;
}

WeightNormalizer::WeightNormalizer(const Tensor& raw, WeightNormalizerOptions o) : options(o) {
  const Tensor rows = as_rows(raw);
  const int64_t out = rows.shape()[1], fan_in = rows.shape()[2];
  check(fan_in > 1 || o.kind == WeightNormKind::wn, type_name().c_str(),
        "needs more than one weight per output channel to take a mean, got ",
        shape_str(raw.shape()));
  check(o.eps >= 0, type_name().c_str(), "eps must be >= 0");
  if (o.kind == WeightNormKind::wn || o.kind == WeightNormKind::cwn) {
    gain = register_parameter("g", Tensor::ones({out}, raw.dtype()));
    reset_gain(raw);
  } else if (o.kind == WeightNormKind::sws) {
    gain = register_parameter("gain", Tensor::ones({out}, raw.dtype()));
  }
}

void WeightNormalizer::reset_gain(const Tensor& raw) {
  if (options.kind != WeightNormKind::wn && options.kind != WeightNormKind::cwn) return;
  // g_o = ||v_o|| (wn) or ||v_o - mean|| (cwn): the layer computes what it computed before.
  NoGradGuard ng;
  const Tensor v = as_rows(raw).detach();
  const Tensor centred = options.kind == WeightNormKind::cwn ? sub(v, mean(v, {2}, true)) : v;
  gain.copy_(sqrt(sum(square(centred), {0, 2})).reshape({gain.numel()}));
}

std::string WeightNormalizer::type_name() const {
  switch (options.kind) {
    case WeightNormKind::wn:
      return "WeightNorm";
    case WeightNormKind::cwn:
      return "CenteredWeightNorm";
    case WeightNormKind::ws:
      return "WeightStandardization";
    case WeightNormKind::sws:
      return "ScaledWeightStandardization";
    case WeightNormKind::wc:
      return "WeightCentralization";
  }
  return "WeightNormalizer";
}

Tensor WeightNormalizer::forward(const Tensor& raw) {
  const char* name = "WeightNormalizer";
  const Tensor rows = as_rows(raw);
  const int64_t out = rows.shape()[1], fan_in = rows.shape()[2];
  const int64_t built_for = gain.defined() ? gain.numel() : out;
  check(built_for == out, type_name().c_str(), "weight has ", out,
        " output channels, the normalizer was built for ", built_for);
  const StatLayout layout = StatLayout::of(rows, out, 1, name);
  const double root_f = std::sqrt(double(fan_in));
  Tensor w;
  switch (options.kind) {
    case WeightNormKind::wn:
      w = plane_norm(rows, mul(gain, 1 / root_f), Tensor(), layout, 0, nullptr, name,
                     {.subtract_mean = false, .center_variance = false})
              .y;
      break;
    case WeightNormKind::cwn:
      w = plane_norm(rows, mul(gain, 1 / root_f), Tensor(), layout, 0, nullptr, name).y;
      break;
    case WeightNormKind::ws:
      if (options.eps_outside) {
        const Tensor m = rows.reshape({out, fan_in});
        const Tensor centred = sub(m, mean(m, {1}, true));
        w = div(centred, add(sqrt(var(m, {1}, true, true)), options.eps));
      } else {
        w = plane_norm(rows, Tensor(), Tensor(), layout, options.eps, nullptr, name).y;
      }
      break;
    case WeightNormKind::sws:
      w = plane_norm(rows, mul(gain, options.gamma / root_f), Tensor(), layout, options.eps,
                     nullptr, name)
              .y;
      break;
    case WeightNormKind::wc:
      w = plane_norm(rows, Tensor(), Tensor(), layout, 0, nullptr, name, {.divide_std = false}).y;
      break;
  }
  return w.reshape(raw.shape());
}

namespace {

NormEntry weight_entry(std::string name, std::string summary, std::vector<NormOption> options,
                       std::function<WeightNormalizerOptions(const NormArgs&)> variant) {
  return {.name = std::move(name),
          .family = NormFamily::weight,
          .summary = std::move(summary),
          .options = std::move(options),
          .build = [variant](const NormArgs& a, int64_t) {
            return weight_side_slot([o = variant(a)](const Tensor& raw) -> ModulePtr {
              return std::make_shared<WeightNormalizer>(raw, o);
            });
          }};
}

}  // namespace

NORMLAB_NORM(ws) {
  return weight_entry(
      "ws", "Weight Standardization (weight side): each conv filter to zero mean and unit variance",
      {NormOption::number("eps", 1e-6, kEps,
                          "added to the variance (eps_outside: to the std; then 1e-5)"),
       NormOption::flag("eps_outside", false, "Qiao et al.'s (v - mean) / (unbiased std + eps)")},
      [](const NormArgs& a) {
        WeightNormalizerOptions o{.kind = WeightNormKind::ws};
        o.eps_outside = a.flag("eps_outside");
        o.eps = a.given("eps") || !o.eps_outside ? a.number("eps") : 1e-5;
        return o;
      });
}

NORMLAB_NORM(sws) {
  const WeightNormalizerOptions d{.kind = WeightNormKind::sws};
  return weight_entry(
      "sws",
      "Scaled Weight Standardization (NF-Nets): gain * gamma * standardized filter / sqrt(fan_in)",
      {NormOption::number("eps", d.eps, kEps, "added to the variance"),
       NormOption::number("gamma", d.gamma, kPositive, "the activation's gain, ReLU's by default")},
      [](const NormArgs& a) {
        return WeightNormalizerOptions{
            .kind = WeightNormKind::sws, .eps = a.number("eps"), .gamma = a.number("gamma")};
      });
}

NORMLAB_NORM(wn) {
  NormEntry e = weight_entry(
      "wn",
      "Weight Normalization: W = g v / ||v|| per filter; crelu: centred, rescaled ReLU after it",
      {NormOption::flag("crelu", false, "follow with the centred, rescaled ReLU of the paper")},
      [](const NormArgs&) { return WeightNormalizerOptions{.kind = WeightNormKind::wn}; });
  e.build = [weight_part = e.build](const NormArgs& a, int64_t c) {
    NormSlot slot = weight_part(a, c);
    if (a.flag("crelu")) {
      slot.module = std::make_shared<CenteredReLU>();
      slot.includes_activation = true;
    }
    return slot;
  };
  return e;
}

NORMLAB_NORM(cwn) {
  return weight_entry(
      "cwn", "Centered Weight Normalization: W = g (v - mean) / ||v - mean|| per filter", {},
      [](const NormArgs&) { return WeightNormalizerOptions{.kind = WeightNormKind::cwn}; });
}

NORMLAB_NORM(wc) {
  return weight_entry(
      "wc", "weight centralization: W = v - mean(v) per filter", {},
      [](const NormArgs&) { return WeightNormalizerOptions{.kind = WeightNormKind::wc}; });
}

}  // namespace nl
