#include "layers/norm/sync_batch_norm.hpp"

#include <sstream>

#include "autograd/node.hpp"
#include "layers/norm/registry.hpp"

namespace nl {
namespace {

// The statistics of every rank of `comm`, pooled (plane_norm's StatSync).
class RankSync final : public StatSync {
 public:
  explicit RankSync(std::shared_ptr<dist::Communicator> comm) : comm_(std::move(comm)) {}

  Moments combine(const Moments& local, double count, double* total) const override {
    const size_t k = local.mean.size();
    std::vector<double> mine(1 + 2 * k);
    mine[0] = count;
    for (size_t i = 0; i < k; ++i)
      mine[1 + i] = local.mean[i], mine[1 + k + i] = local.var[i] * count;
    const std::vector<double> all = comm_->allgather(std::span<const double>(mine));
    // Chan, Golub & LeVeque's pairwise update, rank 0 first.
    double n = 0;
    std::vector<double> mean(k, 0.0), m2(k, 0.0);
    for (int r = 0; r < comm_->size(); ++r) {
      const double* rank = all.data() + size_t(r) * mine.size();
      const double nb = rank[0];
      if (nb == 0) continue;
      const double na = n;
      n = na + nb;
      for (size_t i = 0; i < k; ++i) {
        const double d = rank[1 + i] - mean[i];
        mean[i] += d * nb / n;
        m2[i] += rank[1 + k + i] + d * d * na * nb / n;
      }
    }
    *total = n;
    Moments pooled{mean, m2};
    for (double& v : pooled.var) v = n > 0 ? v / n : 0.0;
    return pooled;
  }

  void sum(std::vector<double>& big_a, std::vector<double>& big_c) const override {
    std::vector<double> both(big_a);
    both.insert(both.end(), big_c.begin(), big_c.end());
    comm_->allreduce_sum(std::span<double>(both));
    std::copy(both.begin(), both.begin() + ptrdiff_t(big_a.size()), big_a.begin());
    std::copy(both.begin() + ptrdiff_t(big_a.size()), both.end(), big_c.begin());
  }

 private:
  std::shared_ptr<dist::Communicator> comm_;
};

}  // namespace

SyncBatchNorm::SyncBatchNorm(int64_t c, BatchNormOptions o,
                             std::shared_ptr<dist::Communicator> comm)
    : BatchNorm(c, o, 0), comm_(std::move(comm)) {
  check(comm_ != nullptr, "SyncBatchNorm", "no communicator");
  check(o.virtual_batch == 0 && o.groups == 0, "SyncBatchNorm",
        "ghost batches and channel groups are BatchNorm options, not SyncBatchNorm's");
}

Tensor SyncBatchNorm::forward(const Tensor& x) {
  const char* name = "SyncBatchNorm";
  const bool use_batch = !options.frozen && (training_ || !running.tracking());
  if (!use_batch) return BatchNorm::forward(x);  // running statistics: nothing to share
  check(x.dim() >= 2 && x.shape()[1] == num_features, name, "expected ", num_features,
        " channels, got input ", shape_str(x.shape()));
  // Held by the backward too (plane_norm's closure), with the communicator it uses.
  const auto sync = std::make_shared<const RankSync>(comm_);
  Moments pooled;
  double count = 0;
  Tensor y;
  if (x.shape()[0] > 0) {
    const StatLayout layout = StatLayout::of(x, num_features, 0, name);
    PlaneNormOutput out =
        plane_norm(x, weight, bias, layout, options.eps, nullptr, name, options.math, sync);
    pooled = std::move(out.batch);
    count = out.count;
    y = out.y;
  } else {
    // No samples on this rank: it still takes part in both collectives, contributing nothing.
    const std::vector<double> zeros(size_t(num_features), 0.0);
    pooled = sync->combine(Moments{zeros, zeros}, 0, &count);
    check(count > 1, name,
          "expected more than 1 value per channel over all ranks when training, got ", count);
    const int64_t c = num_features;
    const DType dt = x.dtype();
    const bool with_weight = weight.defined(), with_bias = bias.defined();
    y = record(Tensor::empty(x.shape(), dt), name, {x, weight, bias},
               [=, shape = x.shape()](const Tensor&) {
                 std::vector<double> a(size_t(c), 0.0), k(size_t(c), 0.0);
                 sync->sum(a, k);
                 return std::vector<Tensor>{Tensor::empty(shape, dt),
                                            with_weight ? Tensor::zeros({c}, dt) : Tensor(),
                                            with_bias ? Tensor::zeros({c}, dt) : Tensor()};
               });
  }
  if (training_ && running.tracking())
    running.update(pooled.mean, pooled.var, count, options.momentum);
  return y;
}

std::string SyncBatchNorm::describe() const {
  std::string s = BatchNorm::describe();
  std::ostringstream os;
  os << "Sync" << s.substr(0, s.size() - 1) << ", ranks=" << comm_->size() << ")";
  return os.str();
}

NORMLAB_NORM(sbn) {
  std::vector<NormOption> options = {NormOption::count(
      "group", 0, "ranks per synchronised group G (consecutive ranks; 0: all ranks)")};
  for (NormOption& o : batch_norm_option_table()) options.push_back(std::move(o));
  return {.name = "sbn",
          .family = NormFamily::batch,
          .summary = "SyncBatchNorm: BatchNorm over the batches of all ranks (or groups of G)",
          .options = std::move(options),
          .build =
              [](const NormArgs& a, int64_t c) {
                return NormSlot{
                    std::make_shared<SyncBatchNorm>(c, batch_norm_options(a, BatchNormOptions{}),
                                                    dist::world_groups(int(a.count("group"))))};
              },
          .page = "",
          .example = ""};
}

}  // namespace nl
