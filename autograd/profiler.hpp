// Opt-in time breakdown of a training step by layer type, for `bench` and for users asking
// "where does my step go?". Off by default; when off, the only cost is one branch per module call
// and per backward node.
//
// Forward time is *self* time: a module's call minus the calls of the modules it runs, so
// a BasicBlock is charged for its residual add and final ReLU, not for its convolutions.
// Backward time is charged to the layer type whose forward recorded the node, so the two columns
// line up ("Conv2d" forward vs "Conv2d" backward). Ops recorded outside any module (the loss)
// are charged to "(outside modules)".
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace nl::profiler {

struct LayerTimes {
  double forward_s = 0, backward_s = 0;
  int64_t forward_calls = 0, backward_calls = 0;
};

void enable(bool on);
bool enabled();
void reset();
// Accumulated times since the last reset(), by layer type.
std::map<std::string, LayerTimes> report();

// The innermost module whose forward is running on this thread ("" outside modules).
const std::string& current_layer();
void add_backward(const std::string& layer, double seconds);

// Times one module call (RAII; a no-op when profiling is off).
class ForwardScope {
 public:
  explicit ForwardScope(const std::string& layer);
  ~ForwardScope();
  ForwardScope(const ForwardScope&) = delete;
  ForwardScope& operator=(const ForwardScope&) = delete;

 private:
  bool active_;
  std::string layer_;
  std::string previous_layer_;
  double children_s_saved_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace nl::profiler
