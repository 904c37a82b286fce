#include "core/parallel.hpp"

#include <cblas.h>
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>

#include <memory>
#include <mutex>

namespace nl {
namespace {

std::unique_ptr<tbb::global_control> g_control;
int g_threads = 0;
std::once_flag g_blas_once;

void pin_blas_to_one_thread() {
  std::call_once(g_blas_once, [] { openblas_set_num_threads(1); });
}

// Runs before main(): whoever links normlab gets single-threaded BLAS inside TBB tasks.
[[maybe_unused]] const bool g_init = [] {
  pin_blas_to_one_thread();
  return true;
}();

}  // namespace

void set_num_threads(int n) {
  pin_blas_to_one_thread();
  const int hw = tbb::info::default_concurrency();
  g_threads = n <= 0 ? hw : n;
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<size_t>(g_threads));
}

int num_threads() {
  return g_threads > 0 ? g_threads
                       : static_cast<int>(tbb::global_control::active_value(
                             tbb::global_control::max_allowed_parallelism));
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (n <= grain || num_threads() == 1) {
    fn(0, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}

}  // namespace nl
