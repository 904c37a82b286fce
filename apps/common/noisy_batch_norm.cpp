#include "apps/common/noisy_batch_norm.hpp"

#include <mutex>

#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "core/random.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/registry.hpp"

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
  const auto step =
      uint64_t(std::static_pointer_cast<BatchNorm>(bn)->running.num_batches_tracked.item());
  Tensor y = (*bn)(x);
  // Eval applies the noise's expectation, E[a_c] = (1 + scale) / 2 and E[b_c] = 0, as dropout's
  // eval keeps its training expectation: the layers after this one were trained on, and keep
  // running statistics of, features scaled by a_c; without the factor they would see 1/E[a_c]
  // of that at every noisy layer, compounding through the network.
  if (!is_training()) return mul(y, (1 + scale) / 2);
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

void register_noisy_batch_norm() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_norm(
        {.name = "noisybn",
         .family = NormFamily::experiment,
         .summary = "Noisy BatchNorm (Santurkar et al.): BatchNorm, then a per-channel random "
                    "affine redrawn every training step; an experiment (probe ics)",
         .options = {NormOption::number("shift", 1.0, kNonNegative, "b_c ~ U(-shift, shift)"),
                     NormOption::number("scale", 2.0, Range{1, kInfinity, false, true},
                                        "a_c ~ U(1, scale)")},
         .build =
             [](const NormArgs& a, int64_t c) {
               return NormSlot{
                   std::make_shared<NoisyBatchNorm>(c, a.number("shift"), a.number("scale"))};
             },
         .exact_training_gradient = false});
  });
}

}  // namespace nl
