#include "autograd/profiler.hpp"

#include <mutex>
#include <utility>

namespace nl::profiler {
namespace {
bool g_enabled = false;
std::mutex g_mutex;
std::map<std::string, LayerTimes> g_times;
thread_local std::string t_current;
thread_local double t_children_s = 0;  // time spent in child modules of the running module
const std::string kOutside = "(outside modules)";
}  // namespace

void enable(bool on) {
  g_enabled = on;
}
bool enabled() {
  return g_enabled;
}
void reset() {
  std::lock_guard lock(g_mutex);
  g_times.clear();
}
std::map<std::string, LayerTimes> report() {
  std::lock_guard lock(g_mutex);
  return g_times;
}

const std::string& current_layer() {
  return t_current;
}

void add_backward(const std::string& layer, double seconds) {
  std::lock_guard lock(g_mutex);
  LayerTimes& t = g_times[layer.empty() ? kOutside : layer];
  t.backward_s += seconds;
  ++t.backward_calls;
}

ForwardScope::ForwardScope(const std::string& layer) : active_(g_enabled) {
  if (!active_) return;
  layer_ = layer;
  previous_layer_ = std::exchange(t_current, layer);
  children_s_saved_ = std::exchange(t_children_s, 0.0);
  start_ = std::chrono::steady_clock::now();
}

ForwardScope::~ForwardScope() {
  if (!active_) return;
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  {
    std::lock_guard lock(g_mutex);
    LayerTimes& t = g_times[layer_];
    t.forward_s += total - t_children_s;  // self time
    ++t.forward_calls;
  }
  t_current = previous_layer_;
  t_children_s = children_s_saved_ + total;  // the parent sees this call as child time
}

}  // namespace nl::profiler
