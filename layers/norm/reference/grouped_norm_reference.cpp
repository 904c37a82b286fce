#include "layers/norm/reference/grouped_norm_reference.hpp"

#include <cmath>

namespace nl::reference {
namespace {

// The statistic that element (n, c) belongs to, and how many statistics there are.
int64_t stat_of(const GroupedNormShape& s, int64_t n, int64_t c) {
  return s.batch_statistics ? c : n * s.groups + c / (s.c / s.groups);
}
int64_t num_stats(const GroupedNormShape& s) {
  return s.batch_statistics ? s.c : s.n * s.groups;
}
int64_t index(const GroupedNormShape& s, int64_t n, int64_t c, int64_t p) {
  return (n * s.c + c) * s.h * s.w + p;
}

}  // namespace

GroupedNormForward grouped_norm_forward(const GroupedNormShape& s, const std::vector<double>& x,
                                        const std::vector<double>& gamma,
                                        const std::vector<double>& beta, double eps) {
  const int64_t k = num_stats(s), plane = s.h * s.w;
  std::vector<double> sum(k, 0.0), count(k, 0.0), sq(k, 0.0);
  // mean_S = 1/M sum_S x
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        sum[stat_of(s, n, c)] += x[index(s, n, c, p)];
        count[stat_of(s, n, c)] += 1;
      }
  GroupedNormForward f{std::vector<double>(x.size()), std::vector<double>(k),
                       std::vector<double>(k)};
  for (int64_t i = 0; i < k; ++i) f.mean[i] = sum[i] / count[i];
  // var_S = 1/M sum_S (x - mean_S)^2, two passes so that it is exact
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const double d = x[index(s, n, c, p)] - f.mean[stat_of(s, n, c)];
        sq[stat_of(s, n, c)] += d * d;
      }
  for (int64_t i = 0; i < k; ++i) f.rstd[i] = 1.0 / std::sqrt(sq[i] / count[i] + eps);
  // y = gamma xhat + beta
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t i = index(s, n, c, p), st = stat_of(s, n, c);
        const double xhat = (x[i] - f.mean[st]) * f.rstd[st];
        f.y[i] = gamma[c] * xhat + beta[c];
      }
  return f;
}

GroupedNormBackward grouped_norm_backward(const GroupedNormShape& s, const std::vector<double>& x,
                                          const std::vector<double>& gamma,
                                          const GroupedNormForward& f,
                                          const std::vector<double>& dy) {
  const int64_t k = num_stats(s), plane = s.h * s.w;
  GroupedNormBackward b{std::vector<double>(x.size()), std::vector<double>(s.c, 0.0),
                        std::vector<double>(s.c, 0.0)};
  // Per statistic: M, mean_S(dxhat) and mean_S(dxhat * xhat), where dxhat = dy * gamma[c].
  std::vector<double> count(k, 0.0), mean_dxhat(k, 0.0), mean_dxhat_xhat(k, 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t i = index(s, n, c, p), st = stat_of(s, n, c);
        const double xhat = (x[i] - f.mean[st]) * f.rstd[st];
        b.dbeta[c] += dy[i];          // y = gamma xhat + beta: dL/dbeta = sum dy
        b.dgamma[c] += dy[i] * xhat;  //                        dL/dgamma = sum dy xhat
        const double dxhat = dy[i] * gamma[c];
        mean_dxhat[st] += dxhat;
        mean_dxhat_xhat[st] += dxhat * xhat;
        count[st] += 1;
      }
  for (int64_t i = 0; i < k; ++i) mean_dxhat[i] /= count[i], mean_dxhat_xhat[i] /= count[i];
  // xhat depends on x three ways: directly, through mean_S and through var_S. Summing them:
  //   dx = rstd * ( dxhat                            direct term
  //               - mean_S(dxhat)                    through the mean
  //               - xhat * mean_S(dxhat * xhat) )    through the variance
  // i.e. dxhat with its components along 1 and along xhat removed, scaled by rstd.
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t i = index(s, n, c, p), st = stat_of(s, n, c);
        const double xhat = (x[i] - f.mean[st]) * f.rstd[st];
        const double dxhat = dy[i] * gamma[c];
        b.dx[i] = f.rstd[st] * (dxhat - mean_dxhat[st] - xhat * mean_dxhat_xhat[st]);
      }
  return b;
}

}  // namespace nl::reference
