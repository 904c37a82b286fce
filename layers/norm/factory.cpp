#include "layers/norm/factory.hpp"

#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "layers/activation.hpp"
#include "layers/container.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/linear.hpp"
#include "layers/norm/batch_channel_norm.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/batch_renorm.hpp"
#include "layers/norm/cross_iteration_bn.hpp"
#include "layers/norm/evo_norm.hpp"
#include "layers/norm/filter_response_norm.hpp"
#include "layers/norm/group_norm.hpp"
#include "layers/norm/instance_enhanced_bn.hpp"
#include "layers/norm/instance_norm.hpp"
#include "layers/norm/layer_norm.hpp"
#include "layers/norm/layer_norm_2d.hpp"
#include "layers/norm/local_response_norm.hpp"
#include "layers/norm/lp_batch_norm.hpp"
#include "layers/norm/noisy_batch_norm.hpp"
#include "layers/norm/online_norm.hpp"
#include "layers/norm/proxy_norm.hpp"
#include "layers/norm/rms_norm.hpp"
#include "layers/norm/switchable_norm.hpp"
#include "layers/norm/weight/spectral_norm.hpp"
#include "layers/norm/weight/weight_normalizer.hpp"

namespace nl {
namespace {

// The values an option accepts: [lo, hi], either end open. NaN is never in range.
struct Range {
  double lo, hi;
  bool lo_open = false, hi_open = false;
  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  std::string str() const {
    const auto num = [](double v) {
      std::ostringstream os;
      os << v;
      return os.str();
    };
    return std::string(lo_open ? "(" : "[") + num(lo) + ", " + num(hi) + (hi_open ? ")" : "]");
  }
};
constexpr double kInf = std::numeric_limits<double>::infinity();
const Range kPositive{0, kInf, true, true};      // eps, scales
const Range kNonNegative{0, kInf, false, true};  // clip limits, step counts
const Range kUnit{0, 1};                         // moving-average momenta, mixing weights
const Range kEps{0, 1, true, false};             // variance floors

// Typed access to a spec's arguments; remembers which were read so leftovers are reported.
class Args {
 public:
  Args(const NormSpec& spec, Shape spatial_shape, bool activation_follows_slot)
      : spatial(std::move(spatial_shape)),
        activation_follows(activation_follows_slot),
        spec_(spec) {}
  const Shape spatial;            // {H, W} of the slot, when the model knows it
  const bool activation_follows;  // a ReLU comes right after the slot
  // The value of `key` (or `fallback`), which must lie in `range`.
  double number(const std::string& key, double fallback, const Range& range) {
    used_.insert(key);
    auto it = spec_.args.find(key);
    if (it == spec_.args.end()) return fallback;
    double v = 0;
    try {
      size_t pos = 0;
      v = std::stod(it->second, &pos);
      if (pos != it->second.size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      throw Error("norm spec '" + spec_.str() + "': " + key + "=" + it->second +
                  " is not a number");
    }
    if (!range.contains(v))
      throw Error("norm spec '" + spec_.str() + "': " + key + "=" + it->second +
                  " is out of range; " + key + " must be in " + range.str());
    return v;
  }
  // A positive whole number (group counts, window sizes).
  int64_t count(const std::string& key, int64_t fallback) {
    const double v = number(key, double(fallback), Range{1, 1e9});
    if (v != double(int64_t(v)))
      throw Error("norm spec '" + spec_.str() + "': " + key + " must be a positive integer, got " +
                  text(key));
    return int64_t(v);
  }
  std::string text(const std::string& key) {
    used_.insert(key);
    auto it = spec_.args.find(key);
    return it == spec_.args.end() ? "" : it->second;
  }
  bool has(const std::string& key) {
    used_.insert(key);
    return spec_.args.count(key) > 0;
  }
  bool flag(const std::string& key, bool fallback) {
    used_.insert(key);
    auto it = spec_.args.find(key);
    if (it == spec_.args.end()) return fallback;
    if (it->second == "true" || it->second == "1") return true;
    if (it->second == "false" || it->second == "0") return false;
    throw Error("norm spec '" + spec_.str() + "': " + key + " must be true or false");
  }
  void done() const {
    for (auto& [k, _] : spec_.args)
      check(used_.count(k) > 0, "norm spec", "'", spec_.str(), "' has unknown argument '", k, "'");
  }

 private:
  const NormSpec& spec_;
  std::set<std::string> used_;
};

struct Entry {
  NormInfo info;
  std::function<NormSlot(Args&, int64_t)> build;
};

const std::string kBatchNormArgs =
    "eps=1e-5 momentum=0.1|none affine=true track_running_stats=true frozen=false";

// The options every BatchNorm relative shares, on top of the variant's own.
BatchNormOptions batch_norm_options(Args& a, BatchNormOptions o) {
  o.eps = a.number("eps", 1e-5, kEps);
  // momentum=none: cumulative moving average, like PyTorch's momentum=None
  if (a.text("momentum") == "none")
    o.momentum.reset();
  else
    o.momentum = a.number("momentum", 0.1, kUnit);
  o.affine = a.flag("affine", true);
  o.track_running_stats = a.flag("track_running_stats", true);
  o.frozen = a.flag("frozen", false);
  return o;
}

NormSlot batch_norm_slot(Args& a, int64_t c, BatchNormOptions o) {
  return NormSlot{std::make_shared<BatchNorm>(c, batch_norm_options(a, o), 0)};
}

// A weight-only slot: Identity in the slot, the normalizer on the convolution before it.
NormSlot weight_slot(WeightNormalizerOptions o) {
  return NormSlot{std::make_shared<Identity>(), false, [o](const Tensor& raw) -> ModulePtr {
                    return std::make_shared<WeightNormalizer>(raw, o);
                  }};
}

bool is_weight_side(const std::string& name) {
  return weight_norm_kind(name).has_value() || name == "sn";
}

const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries = {
      {{"none", "", "no normalization (Identity)"},
       [](Args&, int64_t) { return NormSlot{std::make_shared<Identity>()}; }},
      {{"bn", kBatchNormArgs, "BatchNorm: per channel over (N,H,W); running statistics for eval"},
       [](Args& a, int64_t c) { return batch_norm_slot(a, c, {}); }},
      {{"gbn", "virtual_batch=32 " + kBatchNormArgs,
        "Ghost BatchNorm: training statistics per virtual batch of B' samples"},
       [](Args& a, int64_t c) {
         BatchNormOptions o;
         o.virtual_batch = a.count("virtual_batch", 32);
         return batch_norm_slot(a, c, o);
       }},
      {{"bgn", "groups=8 " + kBatchNormArgs,
        "Batch Group Normalization: over (N, C/G channels, H, W) per group"},
       [](Args& a, int64_t c) {
         BatchNormOptions o;
         o.groups = a.count("groups", 8);
         return batch_norm_slot(a, c, o);
       }},
      {{"vn", kBatchNormArgs, "Variance Normalization: BatchNorm without mean subtraction"},
       [](Args& a, int64_t c) {
         BatchNormOptions o;
         o.math.subtract_mean = false;
         return batch_norm_slot(a, c, o);
       }},
      {{"mbn", kBatchNormArgs, "mean-only BatchNorm: subtracts the batch mean, no division"},
       [](Args& a, int64_t c) {
         BatchNormOptions o;
         o.math.divide_std = false;
         return batch_norm_slot(a, c, o);
       }},
      {{"brn",
        "r_max=3 d_max=5 warmup_start=5000 r_ramp_end=40000 d_ramp_end=25000 eps=1e-5 "
        "momentum=0.1 affine=true",
        "Batch Renormalization: BatchNorm corrected by clipped r, d towards the running stats"},
       [](Args& a, int64_t c) {
         BatchRenormOptions o;
         o.r_max = a.number("r_max", o.r_max, Range{1, kInf, false, true});
         o.d_max = a.number("d_max", o.d_max, kNonNegative);
         o.warmup_start = a.number("warmup_start", o.warmup_start, kNonNegative);
         o.r_ramp_end = a.number("r_ramp_end", o.r_ramp_end, kNonNegative);
         o.d_ramp_end = a.number("d_ramp_end", o.d_ramp_end, kNonNegative);
         o.eps = a.number("eps", o.eps, kEps);
         o.momentum = a.number("momentum", o.momentum, kUnit);
         o.affine = a.flag("affine", true);
         return NormSlot{std::make_shared<BatchRenorm>(c, o)};
       }},
      {{"bcn", "groups=8 " + kBatchNormArgs,
        "Batch-Channel Normalization: BatchNorm, then GroupNorm with a per-group affine"},
       [](Args& a, int64_t c) {
         const int64_t groups = a.count("groups", 8);
         const BatchNormOptions o = batch_norm_options(a, {});
         return NormSlot{std::make_shared<BatchChannelNorm>(c, groups, o, o.eps)};
       }},
      {{"iebn", kBatchNormArgs,
        "Instance-Enhancement BatchNorm: BatchNorm scale gated per sample by sigmoid(w GAP(x)+b)"},
       [](Args& a, int64_t c) {
         return NormSlot{std::make_shared<InstanceEnhancedBatchNorm>(c, batch_norm_options(a, {}))};
       }},
      {{"gn", "groups=8 | group_size=S, eps=1e-5 affine=true",
        "GroupNorm: per sample over groups of C/G channels and (H,W)"},
       [](Args& a, int64_t c) {
         const double eps = a.number("eps", 1e-5, kEps);
         const bool affine = a.flag("affine", true);
         if (a.has("group_size"))
           return NormSlot{GroupNorm::with_group_size(a.count("group_size", 1), c, eps, affine)};
         return NormSlot{std::make_shared<GroupNorm>(a.count("groups", 8), c, eps, affine)};
       }},
      {{"ln", "eps=1e-5 affine=true elementwise=false",
        "LayerNorm of the papers: per sample over (C,H,W), per-channel affine (= GroupNorm(1)); "
        "ln:elementwise is PyTorch's LayerNorm([C,H,W]) with a per-element affine"},
       [](Args& a, int64_t c) {
         const double eps = a.number("eps", 1e-5, kEps);
         const bool affine = a.flag("affine", true);
         if (!a.flag("elementwise", false))
           return NormSlot{std::make_shared<GroupNorm>(1, c, eps, affine)};
         check(a.spatial.size() == 2, "norm spec",
               "'ln:elementwise' needs the feature-map size {H, W} of its slot; models pass it, "
               "direct callers use make_norm(spec, C, {H, W})");
         return NormSlot{
             std::make_shared<LayerNorm>(Shape{c, a.spatial[0], a.spatial[1]}, eps, affine)};
       }},
      {{"pn", "ln | gn=G, eps=1e-5 proxy_eps=0.03 samples=200",
        "Proxy Normalization: LayerNorm/GroupNorm without affine, then affine + ReLU corrected by "
        "a Gaussian proxy; replaces the activation (a slot with no ReLU after it gets plain "
        "LN/GN)"},
       [](Args& a, int64_t c) {
         ProxyNormOptions o;
         const bool ln = a.flag("ln", false);
         if (a.has("gn")) {
           check(!ln, "norm spec", "pn takes ln or gn=G, not both");
           o.groups = a.count("gn", 1);
         }
         o.eps = a.number("eps", o.eps, kEps);
         o.proxy_eps = a.number("proxy_eps", o.proxy_eps, kEps);
         o.samples = a.count("samples", o.samples);
         check(c % o.groups == 0, "ProxyNorm", "gn=", o.groups, " must divide ", c, " channels");
         // PN corrects the moments *after* an activation; where none follows (the last norm of
         // a residual branch, a shortcut) Graphcore's models keep the plain normalizer.
         if (!a.activation_follows)
           return NormSlot{std::make_shared<GroupNorm>(o.groups, c, o.eps)};
         return NormSlot{std::make_shared<ProxyNorm>(c, o), true};
       }},
      {{"cbn", "window=3 burnin=8 rho=1 eps=1e-5 eps_outside=false momentum=0.1 affine=true",
        "Cross-Iteration BatchNorm: batch statistics pooled with the last k iterations', "
        "carried to the current conv weights by a Taylor step"},
       [](Args& a, int64_t c) {
         CrossIterationBNOptions o;
         o.window = a.count("window", o.window);
         o.burnin = int64_t(a.number("burnin", double(o.burnin), Range{0, 1e9}));
         o.rho = a.number("rho", o.rho, kUnit);
         o.eps = a.number("eps", o.eps, kEps);
         o.eps_outside = a.flag("eps_outside", false);
         o.momentum = a.number("momentum", 0.1, kUnit);
         o.affine = a.flag("affine", true);
         auto cbn = std::make_shared<CrossIterationBatchNorm>(c, o);
         NormSlot slot{cbn};
         slot.bind = [cbn](const ModulePtr& producer) { cbn->bind_conv(producer); };
         return slot;
       }},
      {{"noisybn", "shift=1 scale=2",
        "Noisy BatchNorm (Santurkar et al.): BatchNorm, then a per-channel random affine redrawn "
        "every training step; an experiment (probe ics)"},
       [](Args& a, int64_t c) {
         return NormSlot{std::make_shared<NoisyBatchNorm>(c, a.number("shift", 1.0, kNonNegative),
                                                          a.number("scale", 2.0, kNonNegative))};
       }},
      {{"online",
        "alpha_fwd=0.999 alpha_bkw=0.99 eps=1e-5 affine=true ecm=ls|ac|none clamp=5 ls_eps=1e-5",
        "Online Normalization: per-channel streaming statistics over the samples in order; "
        "control-variable backward; batch-size independent"},
       [](Args& a, int64_t c) {
         OnlineNormOptions o;
         o.alpha_fwd = a.number("alpha_fwd", o.alpha_fwd, Range{0, 1, true, true});
         o.alpha_bkw = a.number("alpha_bkw", o.alpha_bkw, Range{0, 1, true, true});
         o.eps = a.number("eps", o.eps, kEps);
         o.affine = a.flag("affine", true);
         if (a.has("ecm")) o.ecm = a.text("ecm");
         o.clamp = a.number("clamp", o.clamp, kPositive);
         o.ls_eps = a.number("ls_eps", o.ls_eps, kEps);
         return NormSlot{std::make_shared<OnlineNorm>(c, o)};
       }},
      {{"lpbn", "p=1|2|inf eps=1e-5 momentum=0.1 affine=true",
        "Lp BatchNorm: BatchNorm scaled by the average Lp deviation (p = 2 is BatchNorm)"},
       [](Args& a, int64_t c) {
         LpBatchNormOptions o;
         const std::string p = a.text("p");
         o.p = p == "inf" ? std::numeric_limits<double>::infinity()
                          : a.number("p", 1, Range{1, kInf, false, true});
         o.eps = a.number("eps", o.eps, kEps);
         o.momentum = a.number("momentum", o.momentum, kUnit);
         o.affine = a.flag("affine", true);
         return NormSlot{std::make_shared<LpBatchNorm>(c, o)};
       }},
      {{"switch", "eps=1e-5 momentum=0.1 unbiased=true affine=true",
        "Switchable Normalization: learned softmax mix of IN, LN and BN statistics"},
       [](Args& a, int64_t c) {
         SwitchableNormOptions o;
         o.eps = a.number("eps", o.eps, kEps);
         o.momentum = a.number("momentum", o.momentum, kUnit);
         o.unbiased_instance_var = a.flag("unbiased", true);
         o.affine = a.flag("affine", true);
         return NormSlot{std::make_shared<SwitchableNorm>(c, o)};
       }},
      {{"ln2d", "eps=1e-6 affine=true",
        "LayerNorm2d (ConvNeXt): per sample and position over the C channels, per-channel affine"},
       [](Args& a, int64_t c) {
         LayerNorm2dOptions o;
         o.eps = a.number("eps", 1e-6, kEps);
         o.affine = o.bias = a.flag("affine", true);
         return NormSlot{std::make_shared<LayerNorm2d>(c, o)};
       }},
      {{"pono", "eps=1e-5", "Positional Normalization: per position over C, no affine"},
       [](Args& a, int64_t c) {
         return NormSlot{std::make_shared<LayerNorm2d>(
             c, positional_norm_options(a.number("eps", 1e-5, kEps)))};
       }},
      {{"rms", "eps=1e-6 affine=true",
        "RMSNorm: per sample x / sqrt(mean_{C,H,W} x^2 + eps), per-channel gain, no bias"},
       [](Args& a, int64_t c) {
         return NormSlot{
             std::make_shared<RMSNorm>(c, a.number("eps", 1e-6, kEps), a.flag("affine", true))};
       }},
      {{"rms2d", "eps=1e-6 affine=true",
        "RmsNorm2d (timm): per position x / sqrt(mean_C x^2 + eps), per-channel gain"},
       [](Args& a, int64_t c) {
         return NormSlot{std::make_shared<LayerNorm2d>(
             c, rms_norm_2d_options(a.number("eps", 1e-6, kEps), a.flag("affine", true)))};
       }},
      {{"lrn", "size=5 alpha=1e-4 beta=0.75 k=1",
        "Local Response Normalization (AlexNet): x / (k + alpha/n sum_window x^2)^beta"},
       [](Args& a, int64_t) {
         return NormSlot{std::make_shared<LocalResponseNorm>(
             a.count("size", 5), a.number("alpha", 1e-4, kNonNegative),
             a.number("beta", 0.75, kNonNegative), a.number("k", 1, kPositive))};
       }},
      {{"in", "eps=1e-5 affine=true track_running_stats=false momentum=0.1",
        "InstanceNorm: per sample and channel over (H,W); affine on by default in models"},
       [](Args& a, int64_t c) {
         InstanceNormOptions o;
         o.eps = a.number("eps", 1e-5, kEps);
         o.affine = a.flag("affine", true);
         o.track_running_stats = a.flag("track_running_stats", false);
         o.momentum = a.number("momentum", 0.1, kUnit);
         return NormSlot{std::make_shared<InstanceNorm2d>(c, o)};
       }},
      {{"frn", "eps=1e-6 tlu=true learned_eps=false",
        "Filter Response Norm + TLU: x / sqrt(mean_HW x^2 + eps), then max(y, tau); replaces the "
        "activation"},
       [](Args& a, int64_t c) {
         // Where no activation follows (the last norm of a residual branch, a shortcut) the
         // slot normalizes only, as timm's norm-act layers with apply_act=False: the block's
         // ReLU comes after the residual add. The same holds for evob0 and evos0 below.
         const bool tlu = a.flag("tlu", true) && a.activation_follows;
         return NormSlot{std::make_shared<FilterResponseNorm>(c, a.number("eps", 1e-6, kEps), tlu,
                                                              a.flag("learned_eps", false)),
                         tlu};
       }},
      {{"evob0", "eps=1e-3 momentum=0.1",
        "EvoNorm-B0: x / max(sqrt(var_B+eps), v x + sqrt(var_HW+eps)); replaces the activation"},
       [](Args& a, int64_t c) {
         const double eps = a.number("eps", 1e-3, kEps),
                      momentum = a.number("momentum", 0.1, kUnit);
         if (!a.activation_follows) {  // x / sqrt(var_B + eps): Variance Normalization
           BatchNormOptions o{.eps = eps, .momentum = momentum};
           o.math.subtract_mean = false;
           return NormSlot{std::make_shared<BatchNorm>(c, o)};
         }
         return NormSlot{std::make_shared<EvoNormB0>(c, eps, momentum), true};
       }},
      {{"evos0", "groups=8 | group_size=S, eps=1e-5",
        "EvoNorm-S0: x sigmoid(v x) / group std; batch independent; replaces the activation"},
       [](Args& a, int64_t c) {
         int64_t groups = a.count("groups", 8);
         if (a.has("group_size")) {
           const int64_t size = a.count("group_size", 1);
           check(c % size == 0, "EvoNormS0", "group_size=", size, " must divide ", c, " channels");
           groups = c / size;
         }
         const double eps = a.number("eps", 1e-5, kEps);
         if (!a.activation_follows) {  // x / group std (not centred): GroupNorm without the mean
           auto gn = std::make_shared<GroupNorm>(groups, c, eps);
           gn->math.subtract_mean = false;
           return NormSlot{gn};
         }
         return NormSlot{std::make_shared<EvoNormS0>(c, groups, eps), true};
       }},
      {{"ws", "eps=1e-6 eps_outside=false",
        "Weight Standardization (weight side): each conv filter to zero mean and unit variance; "
        "eps_outside: Qiao et al.'s unbiased std + eps (1e-5)"},
       [](Args& a, int64_t) {
         WeightNormalizerOptions o{.kind = WeightNormKind::ws};
         o.eps_outside = a.flag("eps_outside", false);
         o.eps = a.number("eps", o.eps_outside ? 1e-5 : 1e-6, kEps);
         return weight_slot(o);
       }},
      {{"sws", "eps=1e-6 gamma=1.7139",
        "Scaled Weight Standardization (NF-Nets): gain * gamma * standardized filter / "
        "sqrt(fan_in)"},
       [](Args& a, int64_t) {
         WeightNormalizerOptions o{.kind = WeightNormKind::sws};
         o.eps = a.number("eps", o.eps, kEps);
         o.gamma = a.number("gamma", o.gamma, kPositive);
         return weight_slot(o);
       }},
      {{"wn", "crelu=false",
        "Weight Normalization: W = g v / ||v|| per filter; crelu: centred, rescaled ReLU after it"},
       [](Args& a, int64_t) {
         NormSlot slot = weight_slot({.kind = WeightNormKind::wn});
         if (a.flag("crelu", false)) {
           slot.module = std::make_shared<CenteredReLU>();
           slot.includes_activation = true;
         }
         return slot;
       }},
      {{"cwn", "", "Centered Weight Normalization: W = g (v - mean) / ||v - mean|| per filter"},
       [](Args&, int64_t) { return weight_slot({.kind = WeightNormKind::cwn}); }},
      {{"wc", "", "weight centralization: W = v - mean(v) per filter"},
       [](Args&, int64_t) { return weight_slot({.kind = WeightNormKind::wc}); }},
      {{"sn", "n_power_iterations=1",
        "Spectral Normalization: W / sigma_max(W), power iteration in training (weight side)"},
       [](Args& a, int64_t) {
         const int iterations = int(a.count("n_power_iterations", 1));
         return NormSlot{std::make_shared<Identity>(), false,
                         [iterations](const Tensor& raw) -> ModulePtr {
                           return std::make_shared<SpectralNorm>(raw, iterations);
                         }};
       }},
  };
  return entries;
}

}  // namespace

NormSpec NormSpec::parse(const std::string& spec) {
  NormSpec s;
  const auto colon = spec.find(':');
  s.name = spec.substr(0, colon);
  check(!s.name.empty(), "norm spec", "empty normalizer name in '", spec, "'");
  if (colon == std::string::npos) return s;
  std::stringstream rest(spec.substr(colon + 1));
  std::string item;
  while (std::getline(rest, item, ',')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    check(!key.empty(), "norm spec", "'", spec, "': an option without a name ('", item, "')");
    check(s.args.count(key) == 0, "norm spec", "'", spec, "' sets '", key,
          "' twice; give each option once");
    s.args[key] = eq == std::string::npos ? "true" : item.substr(eq + 1);
  }
  return s;
}

std::string NormSpec::str() const {
  std::string out = name;
  char sep = ':';
  for (auto& [k, v] : args) out += sep + k + "=" + v, sep = ',';
  return out;
}

namespace {

NormSlot build_one(const NormSpec& spec, int64_t channels, const Shape& spatial,
                   bool activation_follows) {
  for (const Entry& e : registry()) {
    if (e.info.name != spec.name) continue;
    Args args(spec, spatial, activation_follows);
    NormSlot slot = e.build(args, channels);
    args.done();
    return slot;
  }
  throw Error("norm spec: unknown normalizer '" + spec.name + "'; available:\n" +
              list_norms_text());
}

NormSlot build_slot(const std::string& spec_text, int64_t channels, const Shape& spatial,
                    bool activation_follows) {
  const NormSpec spec = NormSpec::parse(spec_text);
  const auto plus = spec.name.find('+');
  if (plus == std::string::npos) return build_one(spec, channels, spatial, activation_follows);
  // "act+weight": the weight-side part's options carry its name as a prefix.
  NormSpec act{spec.name.substr(0, plus), {}}, weight{spec.name.substr(plus + 1), {}};
  check(!is_weight_side(act.name) && is_weight_side(weight.name), "norm spec", "'", spec_text,
        "': a combination is an activation normalizer then a weight-side one (ws, sws, wn, cwn, "
        "wc, sn), e.g. gn+ws");
  for (const auto& [key, value] : spec.args) {
    if (key.rfind(weight.name + ".", 0) == 0)
      weight.args[key.substr(weight.name.size() + 1)] = value;
    else
      act.args[key] = value;
  }
  NormSlot slot = build_one(act, channels, spatial, activation_follows);
  const NormSlot weight_side = build_one(weight, channels, spatial, activation_follows);
  check(!weight_side.includes_activation, "norm spec", "'", spec_text,
        "': wn:crelu replaces the activation and cannot be combined with another normalizer");
  slot.weight_normalizer = weight_side.weight_normalizer;
  return slot;
}

}  // namespace

NormSlot make_norm(const std::string& spec_text, int64_t channels, const Shape& spatial,
                   bool activation_follows) {
  NormSlot slot = build_slot(spec_text, channels, spatial, activation_follows);
  if (slot.weight_normalizer || slot.bind)
    slot.module->register_forward_hook(
        [attached = slot.attached, spec_text](Module&, const Tensor&, const Tensor&) {
          check(*attached, "norm spec", "'", spec_text,
                "' acts on the weights of the layer before it, but was never attached to one: "
                "build the pair with conv_norm_act(spec, conv, channels), or call "
                "attach_slot(slot, conv)");
        });
  return slot;
}

ModulePtr conv_norm_act(const std::string& spec, const ModulePtr& producer, int64_t channels,
                        const Shape& spatial, bool activation) {
  const NormSlot slot = make_norm(spec, channels, spatial, activation);
  attach_slot(slot, producer);
  auto block = std::make_shared<Sequential>();
  block->push_back(producer);
  block->push_back(slot.module);
  if (activation && !slot.includes_activation) block->push_back(std::make_shared<ReLU>());
  return block;
}

void attach_slot(const NormSlot& slot, const ModulePtr& producer) {
  *slot.attached = true;
  if (slot.weight_normalizer) {
    if (auto* conv = dynamic_cast<Conv2d*>(producer.get()))
      conv->attach_weight_normalizer(slot.weight_normalizer(conv->weight));
    else if (auto* linear = dynamic_cast<Linear*>(producer.get()))
      linear->attach_weight_normalizer(slot.weight_normalizer(linear->weight));
    else
      throw Error("attach_slot: " + producer->type_name() +
                  " has no weight to normalize (expected Conv2d or Linear)");
  }
  if (slot.bind) slot.bind(producer);
}

std::vector<NormInfo> list_norms() {
  std::vector<NormInfo> out;
  for (const Entry& e : registry()) out.push_back(e.info);
  return out;
}

std::string list_norms_text() {
  std::ostringstream os;
  for (const NormInfo& i : list_norms()) {
    os << "  " << i.name;
    for (size_t pad = i.name.size(); pad < 8; ++pad) os << ' ';
    os << i.description;
    if (!i.arguments.empty()) os << "\n          options: " << i.arguments;
    os << "\n";
  }
  return os.str();
}

}  // namespace nl
