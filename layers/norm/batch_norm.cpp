#include "layers/norm/batch_norm.hpp"

#include <sstream>

#include "layers/norm/affine.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

BatchNorm::BatchNorm(int64_t c, BatchNormOptions o, int dims)
    : num_features(c), stat_groups(o.groups > 0 ? o.groups : c), options(o), expected_dims(dims) {
  check(c > 0, "BatchNorm", "num_features must be positive, got ", c);
  check(o.eps >= 0, "BatchNorm", "eps must be >= 0");
  check(c % stat_groups == 0, "BatchNorm", "groups=", stat_groups, " must divide num_features=", c);
  check(o.virtual_batch >= 0, "BatchNorm", "virtual_batch must be >= 0");
  std::tie(weight, bias) = register_affine(*this, c, o.affine);
  if (o.track_running_stats || o.frozen)
    running =
        RunningStats::register_on(*this, stat_groups, o.math.subtract_mean, o.math.divide_std);
}

Tensor BatchNorm::forward(const Tensor& x) {
  const char* name = "BatchNorm";
  if (expected_dims == 4)
    check(x.dim() == 4, "BatchNorm2d", "expected 4-D input (N, C, H, W), got ",
          shape_str(x.shape()));
  if (expected_dims == 2)
    check(x.dim() == 2 || x.dim() == 3, "BatchNorm1d", "expected 2-D or 3-D input, got ",
          shape_str(x.shape()));
  check(x.dim() >= 2 && x.shape()[1] == num_features, name, "expected ", num_features,
        " channels, got input ", shape_str(x.shape()));
  const bool tracking = running.tracking();
  const bool use_batch = !options.frozen && (training_ || !tracking);
  if (!use_batch) {
    const StatLayout layout = StatLayout::of(x, stat_groups, 0, name);
    const Moments fixed = running_moments();
    return plane_norm(x, weight, bias, layout, options.eps, &fixed, name, options.math).y;
  }
  // Ghost batches only split training batches; eval above always sees the whole batch.
  // A batch no larger than the virtual batch is one ghost batch.
  const int64_t chunk =
      training_ && options.virtual_batch > 0 && options.virtual_batch < x.shape()[0]
          ? options.virtual_batch
          : 0;
  const StatLayout layout = StatLayout::of(x, stat_groups, chunk, name);
  check(layout.count() > 1, name,
        "expected more than 1 value per channel when training, got input ", shape_str(x.shape()));
  PlaneNormOutput out =
      plane_norm(x, weight, bias, layout, options.eps, nullptr, name, options.math);
  if (!training_ || !tracking) return out.y;
  // One running-statistics update per statistic chunk (one for plain BatchNorm).
  const double m = double(layout.count());
  for (int64_t chunk_index = 0; chunk_index < layout.sample_groups(); ++chunk_index) {
    const auto mean = out.batch.mean.begin() + chunk_index * stat_groups;
    const auto var = out.batch.var.begin() + chunk_index * stat_groups;
    running.update({mean, mean + stat_groups}, {var, var + stat_groups}, m, options.momentum);
  }
  return out.y;
}

Moments BatchNorm::running_moments() const {
  return {running.mean.defined() ? running.mean.to_vector()
                                 : std::vector<double>(size_t(stat_groups), 0.0),
          running.var.defined() ? running.var.to_vector()
                                : std::vector<double>(size_t(stat_groups), 1.0)};
}

std::optional<ChannelAffine> BatchNorm::inference_affine() const {
  const bool use_batch = !options.frozen && (training_ || !running.tracking());
  if (use_batch) return std::nullopt;
  const Moments fixed = running_moments();
  const std::vector<double> g = affine_values(weight, num_features, 1.0);
  const std::vector<double> b = affine_values(bias, num_features, 0.0);
  ChannelAffine a{std::vector<double>(size_t(num_features)),
                  std::vector<double>(size_t(num_features))};
  const int64_t per_group = num_features / stat_groups;
  for (int64_t c = 0; c < num_features; ++c) {
    const int64_t k = c / per_group;
    // plane_norm's fixed-statistics forward, per channel; the mean is subtracted unless
    // Variance Normalization.
    a.scale[c] = inverse_std(fixed.var[k], options.eps, options.math) * g[c];
    a.shift[c] = b[c] - (options.math.subtract_mean ? fixed.mean[k] : 0.0) * a.scale[c];
  }
  return a;
}

std::string BatchNorm::describe() const {
  std::ostringstream os;
  os << "BatchNorm(" << num_features << ", eps=" << options.eps << ", momentum=";
  if (options.momentum)
    os << *options.momentum;
  else
    os << "None";
  os << ", affine=" << (options.affine ? "True" : "False")
     << ", track_running_stats=" << (options.track_running_stats ? "True" : "False")
     << (options.frozen ? ", frozen" : "");
  if (options.virtual_batch) os << ", virtual_batch=" << options.virtual_batch;
  if (stat_groups != num_features) os << ", groups=" << stat_groups;
  if (!options.math.subtract_mean) os << ", no mean subtraction";
  if (!options.math.divide_std) os << ", mean only";
  os << ")";
  return os.str();
}

// ---- registry: BatchNorm and the relatives that are options of this one layer

std::vector<NormOption> batch_norm_option_table() {
  const BatchNormOptions d;
  return {NormOption::number("eps", d.eps, kEps, "added to the variance inside the square root"),
          NormOption::number("momentum", *d.momentum, kUnit,
                             "running <- (1 - m) running + m batch; none: cumulative average",
                             {"none"}),
          NormOption::flag("affine", d.affine, "learned per-channel gamma and beta"),
          NormOption::flag("track_running_stats", d.track_running_stats,
                           "keep running statistics and use them in eval"),
          NormOption::flag("frozen", d.frozen,
                           "eval behaviour in training too, nothing updated (FrozenBN)")};
}

BatchNormOptions batch_norm_options(const NormArgs& a, BatchNormOptions o) {
  o.eps = a.number("eps");
  if (a.word("momentum") == "none")
    o.momentum.reset();
  else
    o.momentum = a.number("momentum");
  o.affine = a.flag("affine");
  o.track_running_stats = a.flag("track_running_stats");
  o.frozen = a.flag("frozen");
  return o;
}

namespace {

// A BatchNorm relative: the shared options, the variant's own first.
NormEntry batch_norm_entry(std::string name, std::string summary, std::vector<NormOption> own,
                           std::function<BatchNormOptions(const NormArgs&)> variant,
                           std::string example = "") {
  std::vector<NormOption> options = std::move(own);
  for (NormOption& o : batch_norm_option_table()) options.push_back(std::move(o));
  return {
      .name = std::move(name),
      .family = NormFamily::batch,
      .summary = std::move(summary),
      .options = std::move(options),
      .build =
          [variant](const NormArgs& a, int64_t c) {
            return NormSlot{std::make_shared<BatchNorm>(c, batch_norm_options(a, variant(a)), 0)};
          },
      .page = "",
      .example = std::move(example)};
}

}  // namespace

NORMLAB_NORM(bn) {
  return batch_norm_entry("bn", "BatchNorm: per channel over (N,H,W); running statistics for eval",
                          {}, [](const NormArgs&) { return BatchNormOptions{}; });
}

NORMLAB_NORM(gbn) {
  return batch_norm_entry(
      "gbn", "Ghost BatchNorm: training statistics per virtual batch of B' samples",
      {NormOption::count("virtual_batch", 32, "samples per virtual batch B'")},
      [](const NormArgs& a) { return BatchNormOptions{.virtual_batch = a.count("virtual_batch")}; },
      "gbn:virtual_batch=2");
}

NORMLAB_NORM(bgn) {
  return batch_norm_entry(
      "bgn", "Batch Group Normalization: over (N, C/G channels, H, W) per group",
      {NormOption::count("groups", 8, "number of channel groups G, dividing C")},
      [](const NormArgs& a) { return BatchNormOptions{.groups = a.count("groups")}; },
      "bgn:groups=2");
}

NORMLAB_NORM(vn) {
  return batch_norm_entry("vn", "Variance Normalization: BatchNorm without mean subtraction", {},
                          [](const NormArgs&) {
                            BatchNormOptions o;
                            o.math.subtract_mean = false;
                            return o;
                          });
}

NORMLAB_NORM(mbn) {
  return batch_norm_entry("mbn", "mean-only BatchNorm: subtracts the batch mean, no division", {},
                          [](const NormArgs&) {
                            BatchNormOptions o;
                            o.math.divide_std = false;
                            return o;
                          });
}

}  // namespace nl
