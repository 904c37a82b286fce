#include "layers/norm/local_response_norm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

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

// out[i] = d[i]^(-beta). The exponents in use (0.75: AlexNet's and PyTorch's default; 0.5; 1)
// are square roots and a division, which vectorise; std::pow does not, and was most of the
// layer's time. The choice is made once per array, outside the loop.
void powers_minus_beta(const double* d, double* out, int64_t n, double beta) {
  if (beta == 0.75) {
    for (int64_t i = 0; i < n; ++i) out[i] = 1.0 / (std::sqrt(d[i]) * std::sqrt(std::sqrt(d[i])));
  } else if (beta == 0.5) {
    for (int64_t i = 0; i < n; ++i) out[i] = 1.0 / std::sqrt(d[i]);
  } else if (beta == 1.0) {
    for (int64_t i = 0; i < n; ++i) out[i] = 1.0 / d[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = std::pow(d[i], -beta);
  }
}

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
  // D is kept for the backward, which needs P = D^(-beta) and D^(-beta-1) = P / D. Each sample
  // is an independent task; every loop runs along a contiguous plane.
  Tensor d = Tensor::empty(x.shape(), x.dtype()), y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* xs = x.data<T>();
    T *ds = d.data<T>(), *ys = y.data<T>();
    parallel_for(n, 1, [&](int64_t begin, int64_t end) {
      std::vector<double> window(l), power(l);
      for (int64_t s = begin; s < end; ++s)
        for (int64_t c = 0; c < channels; ++c) {
          std::fill(window.begin(), window.end(), 0.0);
          for (int64_t cc = win.first(c); cc <= win.last(c); ++cc) {
            const T* xp = xs + (s * channels + cc) * l;
            for (int64_t i = 0; i < l; ++i) window[i] += double(xp[i]) * double(xp[i]);
          }
          const int64_t o = (s * channels + c) * l;
          for (int64_t i = 0; i < l; ++i) window[i] = k + scale * window[i];  // D
          powers_minus_beta(window.data(), power.data(), l, beta);
          for (int64_t i = 0; i < l; ++i) {
            ds[o + i] = T(window[i]);
            ys[o + i] = T(double(xs[o + i]) * power[i]);
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
        // q_c = dy_c x_c D_c^(-beta-1) for one sample, then per channel i the sum of q over the
        // channels whose window contains i.
        std::vector<double> q(channels * l), dd(channels * l), p(channels * l), window(l);
        for (int64_t s = begin; s < end; ++s) {
          const int64_t base = s * channels * l;
          for (int64_t j = 0; j < channels * l; ++j) dd[j] = double(ds[base + j]);
          powers_minus_beta(dd.data(), p.data(), channels * l, beta);
          for (int64_t j = 0; j < channels * l; ++j)
            q[j] = double(gs[base + j]) * double(xs[base + j]) * p[j] / dd[j];
          for (int64_t c = 0; c < channels; ++c) {
            std::fill(window.begin(), window.end(), 0.0);
            for (int64_t cc = win.first_containing(c); cc <= win.last_containing(c); ++cc)
              for (int64_t i = 0; i < l; ++i) window[i] += q[cc * l + i];
            const int64_t o = base + c * l;
            for (int64_t i = 0; i < l; ++i)
              dxs[o + i] = T(double(gs[o + i]) * p[c * l + i] -
                             2 * scale * beta * double(xs[o + i]) * window[i]);
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
