// Per-thread scratch memory reused across calls (im2col columns, partial sums). Each TBB worker
// keeps its own grow-only buffer, so hot loops never allocate. Slot lets one thread hold two.
#pragma once
#include <cstdint>
#include <vector>

namespace nl {

template <typename T, int Slot = 0>
T* thread_scratch(int64_t count) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(count);
  return buffer.data();
}

}  // namespace nl
