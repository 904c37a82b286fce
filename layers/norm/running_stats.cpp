#include "layers/norm/running_stats.hpp"

namespace nl {

void update_running(Tensor& running, const std::vector<double>& batch,
                    std::optional<double> momentum, double tracked) {
  const double m = momentum ? *momentum : 1.0 / std::max(tracked, 1.0);
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
