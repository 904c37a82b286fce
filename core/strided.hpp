// Walks K same-shaped tensors with arbitrary strides, innermost dimension in a tight loop.
// Used by the elementwise kernels; contiguous operands take a flat fast path instead.
#pragma once
#include <array>
#include <cstdint>

#include "core/parallel.hpp"
#include "core/shape.hpp"

namespace nl {

// fn(offsets, n, inner_strides) handles one innermost row of n elements, where offsets[k] is
// operand k's element offset at the row start. Rows are spread over TBB tasks.
template <size_t K, typename Fn>
void strided_rows(const Shape& shape, const std::array<Shape, K>& strides, Fn&& fn) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) {
    std::array<int64_t, K> off{}, inner{};
    fn(off, int64_t{1}, inner);
    return;
  }
  const int64_t inner_n = shape[nd - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d < nd - 1; ++d) rows *= shape[d];
  std::array<int64_t, K> inner;
  for (size_t k = 0; k < K; ++k) inner[k] = strides[k][nd - 1];
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(inner_n, 1));
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      std::array<int64_t, K> off{};
      int64_t rem = r;
      for (int64_t d = nd - 2; d >= 0; --d) {
        const int64_t i = rem % shape[d];
        rem /= shape[d];
        for (size_t k = 0; k < K; ++k) off[k] += i * strides[k][d];
      }
      fn(off, inner_n, inner);
    }
  });
}

}  // namespace nl
