// Exercise 4.2 (d2l.ai's batch-norm exercise, made exact): which half of BatchNorm matters?
// Two halves of BatchNorm, forward and backward, per channel c over its M = N H W values:
//
//   mean-only BN (Salimans & Kingma 2016):  y = gamma_c (x - mean_c) + beta_c
//   variance-only BN:                       y = gamma_c x rstd_c + beta_c
//       mean_c = 1/M sum x,  var_c = 1/M sum (x - mean_c)^2,  rstd_c = 1 / sqrt(var_c + eps)
//   (variance-only divides by the centred deviation but does not subtract the mean.)
//
// Write all four functions in partial_batchnorm.cpp. The backward gets the forward's input
// and returns dx (N, C, H, W), dgamma (C) and dbeta (C) from dy (N, C, H, W).
// For variance-only, var_c depends on x through (x - mean_c); derive d rstd_c / d x_i.
//
// normlab has both as layers: `mbn` and `vn` (docs/norms/mbn.md and vn.md: read them after).
// Graded (ctest -R partial_batchnorm): each forward, then each backward, against normlab's
// layer on several shapes; each backward against central differences (float64 gradcheck).
// Question (docs/course/04-batchnorm.md): train both with `train --norm mbn` / `--norm vn`;
// which one keeps most of BatchNorm's benefit, and what do the probes say about why?
#pragma once
#include <cstdint>
#include <vector>

namespace course {

struct PartialShape {
  int64_t n, c, h, w;
  int64_t index(int64_t in, int64_t ic, int64_t p) const { return (in * c + ic) * h * w + p; }
};

struct PartialGrads {
  std::vector<double> dx, dgamma, dbeta;
};

std::vector<double> mean_only_forward(const PartialShape& s, const std::vector<double>& x,
                                      const std::vector<double>& gamma,
                                      const std::vector<double>& beta);
PartialGrads mean_only_backward(const PartialShape& s, const std::vector<double>& x,
                                const std::vector<double>& gamma, const std::vector<double>& dy);

std::vector<double> variance_only_forward(const PartialShape& s, const std::vector<double>& x,
                                          const std::vector<double>& gamma,
                                          const std::vector<double>& beta, double eps = 1e-5);
PartialGrads variance_only_backward(const PartialShape& s, const std::vector<double>& x,
                                    const std::vector<double>& gamma, const std::vector<double>& dy,
                                    double eps = 1e-5);

}  // namespace course
