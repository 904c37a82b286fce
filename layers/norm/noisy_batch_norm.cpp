#include "layers/norm/noisy_batch_norm.hpp"

#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "core/random.hpp"
#include "layers/norm/batch_norm.hpp"

namespace nl {

NoisyBatchNorm::NoisyBatchNorm(int64_t c, double shift_, double scale_)
    : shift(shift_), scale(scale_) {
  check(shift_ >= 0 && scale_ >= 1, "NoisyBatchNorm", "needs shift >= 0 and scale >= 1");
  bn = register_module("bn", BatchNorm2d(c));
  seed_ = default_generator().next_u64();
}

Tensor NoisyBatchNorm::forward(const Tensor& x) {
  // The noise of training step k is a function of k (BatchNorm's num_batches_tracked before
  // this batch): a probe that re-runs the same step after restoring the buffers sees the same
  // noise, and the next step new noise.
  const auto step = uint64_t(std::static_pointer_cast<BatchNorm>(bn)->num_batches_tracked.item());
  Tensor y = (*bn)(x);
  if (!is_training()) return y;
  const int64_t c = x.shape()[1];
  std::vector<double> a(c), b(c);
  const Generator g(seed_ ^ (step * 0x9E3779B97F4A7C15ULL));
  for (int64_t i = 0; i < c; ++i) {
    a[i] = 1 + (scale - 1) * g.uniform_at(2 * uint64_t(i));
    b[i] = shift * (2 * g.uniform_at(2 * uint64_t(i) + 1) - 1);
  }
  Shape per_channel(size_t(x.dim()), 1);
  per_channel[1] = c;
  return add(mul(y, Tensor::from_vector(a, per_channel, x.dtype())),
             Tensor::from_vector(b, per_channel, x.dtype()));
}

}  // namespace nl
