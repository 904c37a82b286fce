// Exercise 5.1: GroupNorm forward and backward (Wu & He 2018), which contains LayerNorm
// (G = 1) and InstanceNorm (G = C).
//
//   x (N, C, H, W), G groups of C/G consecutive channels. For each sample n and group g, over
//   the M = (C/G) H W values of that group:
//   mean_ng = 1/M sum x,  var_ng = 1/M sum (x - mean_ng)^2  (biased),  rstd_ng = 1/sqrt(var + eps)
//   xhat = (x - mean_ng) rstd_ng,   y = gamma_c xhat + beta_c   (affine per channel, not group)
//
// Write groupnorm_forward and groupnorm_backward in groupnorm.cpp. The forward returns y and
// the (N, G) statistics mean and rstd, stored n-major (index n G + g); the backward gets them
// back. Careful: gamma is per channel, and a group holds several channels, so the means of
// the backward are means of gamma_c dy, not of dy.
//
// Graded (ctest -R groupnorm): the forward and its statistics, then the backward, against
// normlab's GroupNorm for G = 1 (LayerNorm), 2 and C (InstanceNorm), with gamma different per
// channel; your backward against central differences of your forward (float64 gradcheck).
#pragma once
#include <cstdint>
#include <vector>

namespace course {

struct GroupShape {
  int64_t n, c, h, w, groups;
  int64_t index(int64_t in, int64_t ic, int64_t p) const { return (in * c + ic) * h * w + p; }
  int64_t group_of(int64_t ic) const { return ic / (c / groups); }
};

struct GroupNormForward {
  std::vector<double> y;           // (N, C, H, W)
  std::vector<double> mean, rstd;  // (N, G)
};
struct GroupNormGrads {
  std::vector<double> dx, dgamma, dbeta;  // (N, C, H, W), (C), (C)
};

GroupNormForward groupnorm_forward(const GroupShape& s, const std::vector<double>& x,
                                   const std::vector<double>& gamma,
                                   const std::vector<double>& beta, double eps = 1e-5);
GroupNormGrads groupnorm_backward(const GroupShape& s, const std::vector<double>& x,
                                  const std::vector<double>& gamma, const GroupNormForward& fwd,
                                  const std::vector<double>& dy);

}  // namespace course
