#include "groupnorm.hpp"

#include <cmath>

namespace course {

GroupNormForward groupnorm_forward(const GroupShape& s, const std::vector<double>& x,
                                   const std::vector<double>& gamma,
                                   const std::vector<double>& beta, double eps) {
  const int64_t k = s.n * s.groups, plane = s.h * s.w;
  const double m = double(s.c / s.groups * plane);
  GroupNormForward f{std::vector<double>(x.size()), std::vector<double>(k, 0.0),
                     std::vector<double>(k, 0.0)};
  std::vector<double> var(k, 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p)
        f.mean[n * s.groups + s.group_of(c)] += x[s.index(n, c, p)] / m;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t st = n * s.groups + s.group_of(c);
        const double d = x[s.index(n, c, p)] - f.mean[st];
        var[st] += d * d / m;
      }
  for (int64_t i = 0; i < k; ++i) f.rstd[i] = 1 / std::sqrt(var[i] + eps);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t i = s.index(n, c, p), st = n * s.groups + s.group_of(c);
        f.y[i] = gamma[c] * (x[i] - f.mean[st]) * f.rstd[st] + beta[c];
      }
  return f;
}

GroupNormGrads groupnorm_backward(const GroupShape& s, const std::vector<double>& x,
                                  const std::vector<double>& gamma, const GroupNormForward& fwd,
                                  const std::vector<double>& dy) {
  const int64_t k = s.n * s.groups, plane = s.h * s.w;
  const double m = double(s.c / s.groups * plane);
  GroupNormGrads g{std::vector<double>(x.size()), std::vector<double>(s.c, 0.0),
                   std::vector<double>(s.c, 0.0)};
  // Per (n, group): mean(gd) and mean(gd xhat), with gd = gamma_c dy = dL/dxhat.
  std::vector<double> mean_gd(k, 0.0), mean_gd_xhat(k, 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t i = s.index(n, c, p), st = n * s.groups + s.group_of(c);
        const double xhat = (x[i] - fwd.mean[st]) * fwd.rstd[st];
        g.dbeta[c] += dy[i];
        g.dgamma[c] += dy[i] * xhat;
        mean_gd[st] += gamma[c] * dy[i] / m;
        mean_gd_xhat[st] += gamma[c] * dy[i] * xhat / m;
      }
  // dx = rstd (gd - mean(gd) - xhat mean(gd xhat)): BatchNorm's backward over a group's values.
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t i = s.index(n, c, p), st = n * s.groups + s.group_of(c);
        const double xhat = (x[i] - fwd.mean[st]) * fwd.rstd[st];
        g.dx[i] = fwd.rstd[st] * (gamma[c] * dy[i] - mean_gd[st] - xhat * mean_gd_xhat[st]);
      }
  return g;
}

}  // namespace course
