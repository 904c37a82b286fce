// The one threading owner of normlab is oneTBB. OpenBLAS is switched to one thread at start-up
// and called from inside TBB tasks, so the two never oversubscribe the cores.
//
//   nl::set_num_threads(4);   // the whole library (apps: --threads)
//
// Work smaller than a grain runs serially: spawning tasks costs more than it saves there.
#pragma once
#include <cstdint>
#include <functional>

namespace nl {

// 0 = all hardware threads. Also pins OpenBLAS to one thread (see docs/threading.md).
void set_num_threads(int n);
int num_threads();

// Elements below which an elementwise kernel stays serial (measured in docs/performance.md).
inline constexpr int64_t kElementwiseGrain = 32768;

// Runs fn(begin, end) over [0, n) in chunks of at least `grain`; serial when n <= grain.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Runs body(begin, end) over [0, count): split over the threads when `parallel`, else in one
// call on this thread. For kernels whose schedule is decided once for a whole op (the
// convolutions: parallel over images, or over the work inside each image, never both).
template <typename F>
void for_range(bool parallel, int64_t count, const F& body) {
  if (parallel)
    parallel_for(count, 1, body);
  else
    body(0, count);
}

}  // namespace nl
