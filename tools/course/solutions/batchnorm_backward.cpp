#include "batchnorm_backward.hpp"

namespace course {

BatchNormGrads batchnorm_backward(const BatchShape& s, const std::vector<double>& x,
                                  const std::vector<double>& gamma, const BatchNormCache& cache,
                                  const std::vector<double>& dy) {
  BatchNormGrads g{std::vector<double>(x.size()), std::vector<double>(s.c, 0.0),
                   std::vector<double>(s.c, 0.0)};
  const double m = double(s.per_channel());
  for (int64_t c = 0; c < s.c; ++c) {
    // mean(g) and mean(g xhat) over the channel, with g = gamma dy = dL/dxhat
    double mean_g = 0, mean_g_xhat = 0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        const double xhat = (x[i] - cache.mean[c]) * cache.rstd[c];
        g.dbeta[c] += dy[i];
        g.dgamma[c] += dy[i] * xhat;
        mean_g += gamma[c] * dy[i] / m;
        mean_g_xhat += gamma[c] * dy[i] * xhat / m;
      }
    // dx = rstd (g - mean(g) - xhat mean(g xhat)):
    //   g            the direct path,
    //   - mean(g)    through the mean (every x moves mean_c by 1/M),
    //   - xhat ...   through the variance (d var / dx = 2 (x - mean) / M).
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        const double xhat = (x[i] - cache.mean[c]) * cache.rstd[c];
        g.dx[i] = cache.rstd[c] * (gamma[c] * dy[i] - mean_g - xhat * mean_g_xhat);
      }
  }
  return g;
}

}  // namespace course
