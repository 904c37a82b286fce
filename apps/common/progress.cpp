#include "apps/common/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace nl::apps {
namespace {
std::string format_duration(double s) {
  char buf[32];
  const int t = int(s);
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  return buf;
}
}  // namespace

ProgressLine::ProgressLine(bool enabled, int64_t epochs, int64_t steps, int64_t batch)
    : enabled_(enabled && isatty(fileno(stdout))), epochs_(epochs), steps_(steps), batch_(batch) {}

void ProgressLine::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  start_ = std::chrono::steady_clock::now();
}

void ProgressLine::step(int64_t step, double mean_loss, double accuracy, int64_t seen) {
  if (!enabled_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double ips = seen / std::max(elapsed, 1e-9);
  const double remaining =
      (double(steps_ - step) + double(epochs_ - epoch_ - 1) * steps_) * batch_ / ips;
  std::printf("\repoch %lld/%lld  step %lld/%lld  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s   ",
              (long long)epoch_ + 1, (long long)epochs_, (long long)step, (long long)steps_,
              mean_loss, 100.0 * accuracy, ips, format_duration(remaining).c_str());
  std::fflush(stdout);
}

void ProgressLine::clear() {
  if (enabled_) std::printf("\r%120s\r", "");
}

}  // namespace nl::apps
