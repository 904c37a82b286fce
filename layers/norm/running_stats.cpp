#include "layers/norm/running_stats.hpp"

namespace nl {

RunningStats RunningStats::register_on(Module& owner, int64_t size, bool with_mean, bool with_var) {
  RunningStats r;
  if (with_mean) r.mean = owner.register_buffer("running_mean", Tensor::zeros({size}));
  if (with_var) r.var = owner.register_buffer("running_var", Tensor::ones({size}));
  r.num_batches_tracked =
      owner.register_buffer("num_batches_tracked", Tensor::zeros({}), /*counter=*/true);
  return r;
}

void RunningStats::update(const std::vector<double>& batch_mean,
                          const std::vector<double>& biased_var, double m,
                          std::optional<double> momentum) {
  const double tracked = num_batches_tracked.item() + 1;
  num_batches_tracked.fill_(tracked);
  if (mean.defined()) update_running(mean, batch_mean, momentum, tracked);
  if (var.defined()) {
    std::vector<double> unbiased = biased_var;
    for (double& v : unbiased) v *= m / (m - 1);
    update_running(var, unbiased, momentum, tracked);
  }
}

namespace {
thread_local CumulativeStatsScope* active_scope = nullptr;

const void* first_element(const Tensor& t) {
  const void* p = nullptr;
  dispatch(t.dtype(), [&]<typename T>() { p = t.data<T>(); });
  return p;
}
}  // namespace

CumulativeStatsScope::CumulativeStatsScope() {
  check(active_scope == nullptr, "CumulativeStatsScope", "scopes do not nest");
  active_scope = this;
}

CumulativeStatsScope::~CumulativeStatsScope() {
  active_scope = nullptr;
}

bool CumulativeStatsScope::averaged(const Tensor& buffer) const {
  return buffer.defined() && updates_.contains(first_element(buffer));
}

double CumulativeStatsScope::next_momentum(const Tensor& buffer) {
  return 1.0 / double(++updates_[first_element(buffer)]);
}

void update_running(Tensor& running, const std::vector<double>& batch,
                    std::optional<double> momentum, double tracked) {
  const double m = active_scope ? active_scope->next_momentum(running)
                   : momentum   ? *momentum
                                : 1.0 / std::max(tracked, 1.0);
  dispatch(running.dtype(), [&]<typename T>() {
    T* r = running.data<T>();
    for (size_t c = 0; c < batch.size(); ++c) r[c] = T((1 - m) * r[c] + m * batch[c]);
  });
}

void store_buffer(Tensor buffer, const std::vector<double>& values) {
  check(int64_t(values.size()) == buffer.numel(), "store_buffer", values.size(),
        " values for a buffer of shape ", shape_str(buffer.shape()));
  check(buffer.is_contiguous(), "store_buffer", "buffer must be contiguous");
  dispatch(buffer.dtype(), [&]<typename T>() {
    T* b = buffer.data<T>();
    for (size_t i = 0; i < values.size(); ++i) b[i] = T(values[i]);
  });
}

}  // namespace nl
