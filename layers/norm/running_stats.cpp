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

}  // namespace nl
