// The one-line progress display of a training epoch (only when stdout is a terminal).
#pragma once
#include <chrono>
#include <cstdint>

namespace nl::apps {

class ProgressLine {
 public:
  ProgressLine(bool enabled, int64_t epochs, int64_t steps_per_epoch, int64_t batch_size);
  void start_epoch(int64_t epoch);  // from 0
  void step(int64_t step, double mean_loss, double accuracy, int64_t seen);
  void clear();  // erases the line before the epoch's summary is printed

 private:
  bool enabled_;
  int64_t epochs_, steps_, batch_, epoch_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace nl::apps
