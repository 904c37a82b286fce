// Helpers of the data-parallel tests, which run as every rank of `mpirun -np K` (K = 1, 2, 4):
// each rank builds the same global tensors from one seed and takes its own slice.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dist/communicator.hpp"
#include "core/dist/shard.hpp"
#include "core/tensor.hpp"

namespace nl::testing {

inline dist::Communicator& comm() {
  return dist::world();
}

// Rows [begin, begin + n) of x along dim 0, as a contiguous tensor.
inline Tensor rows(const Tensor& x, int64_t begin, int64_t n) {
  return x.narrow(0, begin, n).contiguous();
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// The sum over the ranks of a local tensor (float64), as a new tensor.
inline Tensor summed_over_ranks(const Tensor& t) {
  std::vector<double> v = t.to_vector();
  comm().allreduce_sum(std::span<double>(v));
  return Tensor::from_vector(v, t.shape(), DType::f64);
}

// Per-rank batch sizes {3, 5, 0, 1, 2, 4, 6, 7}: uneven, one rank empty from 3 ranks on.
inline std::vector<int64_t> uneven_counts(int ranks) {
  const std::vector<int64_t> pattern = {3, 5, 0, 1, 2, 4, 6, 7};
  std::vector<int64_t> counts(ranks);
  for (int r = 0; r < ranks; ++r) counts[r] = pattern[r % pattern.size()];
  return counts;
}

}  // namespace nl::testing
