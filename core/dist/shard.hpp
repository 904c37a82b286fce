// Which samples of a global batch each rank of a data-parallel job takes.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/error.hpp"

namespace nl::dist {

// Samples [begin, end) of a batch of `global` samples for rank `rank` of `size`: consecutive,
// in rank order, sizes differing by at most one (the first global % size ranks take one more),
// so the concatenation over the ranks is exactly the batch one process would take.
struct Shard {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

inline Shard shard_of(int64_t global, int rank, int size) {
  check(size >= 1 && rank >= 0 && rank < size, "shard_of", "rank ", rank, " of ", size);
  check(global >= 0, "shard_of", "a batch of ", global, " samples");
  const int64_t base = global / size, extra = global % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace nl::dist
