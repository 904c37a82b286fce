#include "layers/norm/local_response_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "core/parallel.hpp"
#include "layers/norm/registry.hpp"

namespace nl {
namespace {

// Channel window [c - size/2, c + (size-1)/2] clipped to [0, C).
struct Window {
  int64_t size, channels;
  int64_t first(int64_t c) const { return std::max<int64_t>(0, c - size / 2); }
  int64_t last(int64_t c) const { return std::min<int64_t>(channels - 1, c + (size - 1) / 2); }
  // The channels whose window contains channel i.
  int64_t first_containing(int64_t i) const { return std::max<int64_t>(0, i - (size - 1) / 2); }
  int64_t last_containing(int64_t i) const { return std::min<int64_t>(channels - 1, i + size / 2); }
};

}  // namespace

LocalResponseNorm::LocalResponseNorm(int64_t size_, double alpha_, double beta_, double k_)
    : size(size_), alpha(alpha_), beta(beta_), k(k_) {
  check(size_ >= 1, "LocalResponseNorm", "size must be >= 1, got ", size_);
  check(k_ > 0 || alpha_ > 0, "LocalResponseNorm", "k or alpha must be > 0");
}

Tensor LocalResponseNorm::forward(const Tensor& x) {
  return local_response_norm(x, size, alpha, beta, k);
}

Tensor local_response_norm(const Tensor& x_in, int64_t size, double alpha, double beta, double k) {
  check(x_in.dim() >= 3, "LocalResponseNorm",
        "expected input (N, C, ...) with at least 3 dims, got ", shape_str(x_in.shape()));
  const Tensor x = x_in.detach().contiguous();
  const int64_t n = x.shape()[0], channels = x.shape()[1], l = x.numel() / (n * channels);
  const Window win{size, channels};
  const double scale = alpha / double(size);
  // D is kept for the backward; each sample is an independent task.
  Tensor d = Tensor::empty(x.shape(), x.dtype()), y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* xs = x.data<T>();
    T *ds = d.data<T>(), *ys = y.data<T>();
    parallel_for(n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s)
        for (int64_t c = 0; c < channels; ++c) {
          T* dp = ds + (s * channels + c) * l;
          for (int64_t i = 0; i < l; ++i) dp[i] = T(0);
          for (int64_t cc = win.first(c); cc <= win.last(c); ++cc) {
            const T* xp = xs + (s * channels + cc) * l;
            for (int64_t i = 0; i < l; ++i) dp[i] += xp[i] * xp[i];
          }
          const T* xp = xs + (s * channels + c) * l;
          T* yp = ys + (s * channels + c) * l;
          for (int64_t i = 0; i < l; ++i) {
            dp[i] = T(k + scale * double(dp[i]));
            yp[i] = T(double(xp[i]) * std::pow(double(dp[i]), -beta));
          }
        }
    });
  });
  return record(y, "LocalResponseNorm", {x_in}, [=](const Tensor& gy) {
    const Tensor dy = gy.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    dispatch(x.dtype(), [&]<typename T>() {
      const T *xs = x.data<T>(), *ds = d.data<T>(), *gs = dy.data<T>();
      T* dxs = dx.data<T>();
      parallel_for(n, 1, [&](int64_t begin, int64_t end) {
        // q_c = dy_c x_c D_c^(-beta-1) for one sample, then a window sum per channel.
        std::vector<double> q(channels * l);
        for (int64_t s = begin; s < end; ++s) {
          const int64_t base = s * channels * l;
          for (int64_t j = 0; j < channels * l; ++j)
            q[j] = double(gs[base + j]) * double(xs[base + j]) *
                   std::pow(double(ds[base + j]), -beta - 1);
          for (int64_t c = 0; c < channels; ++c)
            for (int64_t i = 0; i < l; ++i) {
              const int64_t j = c * l + i;
              double window_sum = 0;
              for (int64_t cc = win.first_containing(c); cc <= win.last_containing(c); ++cc)
                window_sum += q[cc * l + i];
              dxs[base + j] = T(double(gs[base + j]) * std::pow(double(ds[base + j]), -beta) -
                                2 * scale * beta * double(xs[base + j]) * window_sum);
            }
        }
      });
    });
    return std::vector<Tensor>{dx};
  });
}

NORMLAB_NORM(lrn) {
  return {
      .name = "lrn",
      .family = NormFamily::position,
      .summary = "Local Response Normalization (AlexNet): x / (k + alpha/n sum_window x^2)^beta",
      .options = {NormOption::count("size", 5, "channels in the window, n"),
                  NormOption::number("alpha", 1e-4, kNonNegative, "scale of the window sum"),
                  NormOption::number("beta", 0.75, kNonNegative, "exponent"),
                  NormOption::number("k", 1, kPositive, "additive constant")},
      .build =
          [](const NormArgs& a, int64_t) {
            return NormSlot{std::make_shared<LocalResponseNorm>(a.count("size"), a.number("alpha"),
                                                                a.number("beta"), a.number("k"))};
          },
      .page = "",
      .example = "lrn:size=3,alpha=0.5,k=1.5"};
}

}  // namespace nl
