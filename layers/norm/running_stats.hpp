// Running statistics of the batch-statistics normalizers (PyTorch's convention), as a component
// its layer registers and updates:
//   running_mean (init 0), running_var (init 1), num_batches_tracked (a counter, saved as int64)
//   after each training batch:  num_batches_tracked += 1
//                               running <- (1 - m) running + m batch
//   m = momentum, or 1 / num_batches_tracked when momentum is none (a cumulative average), and
//   the variance blended is the unbiased one, var * M / (M - 1) for M values per statistic,
//   while the layer normalizes with the biased one.
#pragma once
#include <map>
#include <optional>
#include <vector>

#include "layers/module.hpp"

namespace nl {

struct RunningStats {
  Tensor mean, var, num_batches_tracked;  // undefined when not kept

  // Registers the buffers on `owner`: `size` statistics; with_mean / with_var = false leave one
  // out (Variance Normalization keeps no mean, mean-only BatchNorm no variance).
  static RunningStats register_on(Module& owner, int64_t size, bool with_mean = true,
                                  bool with_var = true);
  bool tracking() const { return num_batches_tracked.defined(); }
  // One training batch: counts it, then blends `batch_mean` and `biased_var` (the biased
  // variance of `m` values per statistic; corrected to the unbiased one here) with the layer's
  // momentum (none: the cumulative average).
  void update(const std::vector<double>& batch_mean, const std::vector<double>& biased_var,
              double m, std::optional<double> momentum);
};

// Blends per-statistic batch values into a running buffer in place;
// `num_batches_tracked` must already count this batch when momentum is nullopt.
void update_running(Tensor& running, const std::vector<double>& batch,
                    std::optional<double> momentum, double num_batches_tracked);

// While one is alive on a thread, every update_running on that thread (so every layer's running
// statistics, whatever its momentum) keeps the cumulative average of the values blended into
// each buffer since the scope began: the k-th update of a buffer uses m = 1/k. It also records
// which buffers it averaged. recompute_running_stats (layers/norm/precise_stats.hpp) is built
// on it; scopes do not nest.
class CumulativeStatsScope {
 public:
  CumulativeStatsScope();
  ~CumulativeStatsScope();
  CumulativeStatsScope(const CumulativeStatsScope&) = delete;
  CumulativeStatsScope& operator=(const CumulativeStatsScope&) = delete;
  // Whether `buffer` was averaged in this scope.
  bool averaged(const Tensor& buffer) const;
  // The momentum of the next update of `buffer` (1/k for its k-th), counting it.
  double next_momentum(const Tensor& buffer);

 private:
  std::map<const void*, int64_t> updates_;  // by the buffer's storage address
};

// Overwrites a buffer (any dtype, so it follows Module::to) with values kept as doubles.
void store_buffer(Tensor buffer, const std::vector<double>& values);

}  // namespace nl
