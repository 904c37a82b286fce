// Exponential moving averages of normalization statistics (PyTorch convention):
//   running <- (1 - m) running + m batch,   m = momentum, or 1/num_batches_tracked if none.
#pragma once
#include <optional>
#include <vector>

#include "core/tensor.hpp"

namespace nl {

// Blends per-channel batch values into a running buffer in place and returns nothing;
// `num_batches_tracked` must already count this batch when momentum is nullopt.
void update_running(Tensor& running, const std::vector<double>& batch,
                    std::optional<double> momentum, double num_batches_tracked);

// Overwrites a buffer (any dtype, so it follows Module::to) with values kept as doubles.
void store_buffer(Tensor buffer, const std::vector<double>& values);

}  // namespace nl
