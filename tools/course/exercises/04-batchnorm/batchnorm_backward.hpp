// Exercise 4.1: the backward of BatchNorm in training mode, derived by hand.
//
//   x (N, C, H, W); per channel c, over the M = N H W values of that channel:
//   mean_c = 1/M sum x,  var_c = 1/M sum (x - mean_c)^2     (biased, as PyTorch normalizes)
//   rstd_c = 1 / sqrt(var_c + eps),  xhat = (x - mean_c) rstd_c,  y = gamma_c xhat + beta_c
//
// Given: batchnorm_forward (below), which returns y and the cache (mean, rstd per channel).
// Write batchnorm_backward in batchnorm_backward.cpp: from dy = dL/dy (N, C, H, W) compute
//   dbeta_c, dgamma_c  (C)     and     dx  (N, C, H, W).
// xhat depends on x directly, through mean_c and through var_c: all three paths count. Work in
// terms of g = gamma_c dy (the gradient with respect to xhat) and per-channel means over M.
//
// Graded (ctest -R batchnorm_backward): dgamma and dbeta, then dx, against normlab's
// BatchNorm2d on several shapes (one sample of 7x5; 6 samples of 1x1); your backward against
// central differences of the forward (float64 gradcheck); and the geometric property of every
// correct BatchNorm backward: per channel, dx sums to 0 and is orthogonal to xhat.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace course {

struct BatchShape {
  int64_t n, c, h, w;
  int64_t per_channel() const { return n * h * w; }
  int64_t index(int64_t in, int64_t ic, int64_t p) const { return (in * c + ic) * h * w + p; }
};

struct BatchNormCache {
  std::vector<double> y;           // (N, C, H, W)
  std::vector<double> mean, rstd;  // (C)
};

// --- given ---------------------------------------------------------------------------------
inline BatchNormCache batchnorm_forward(const BatchShape& s, const std::vector<double>& x,
                                        const std::vector<double>& gamma,
                                        const std::vector<double>& beta, double eps = 1e-5) {
  BatchNormCache f{std::vector<double>(x.size()), std::vector<double>(s.c, 0.0),
                   std::vector<double>(s.c, 0.0)};
  const double m = double(s.per_channel());
  for (int64_t c = 0; c < s.c; ++c) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) sum += x[s.index(n, c, p)];
    f.mean[c] = sum / m;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const double d = x[s.index(n, c, p)] - f.mean[c];
        sq += d * d;
      }
    f.rstd[c] = 1 / std::sqrt(sq / m + eps);
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        f.y[i] = gamma[c] * (x[i] - f.mean[c]) * f.rstd[c] + beta[c];
      }
  }
  return f;
}

// --- to write --------------------------------------------------------------------------------
struct BatchNormGrads {
  std::vector<double> dx, dgamma, dbeta;  // (N, C, H, W), (C), (C)
};
BatchNormGrads batchnorm_backward(const BatchShape& s, const std::vector<double>& x,
                                  const std::vector<double>& gamma, const BatchNormCache& cache,
                                  const std::vector<double>& dy);

}  // namespace course
