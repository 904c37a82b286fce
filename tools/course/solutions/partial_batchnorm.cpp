#include "partial_batchnorm.hpp"

#include <cmath>

namespace course {
namespace {

struct ChannelStats {
  std::vector<double> mean, rstd;
};

// Per channel: mean_c and rstd_c = 1 / sqrt(var_c + eps) over the M = N H W values.
ChannelStats channel_stats(const PartialShape& s, const std::vector<double>& x, double eps) {
  ChannelStats st{std::vector<double>(s.c, 0.0), std::vector<double>(s.c, 0.0)};
  const double m = double(s.n * s.h * s.w);
  for (int64_t c = 0; c < s.c; ++c) {
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) st.mean[c] += x[s.index(n, c, p)] / m;
    double var = 0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const double d = x[s.index(n, c, p)] - st.mean[c];
        var += d * d / m;
      }
    st.rstd[c] = 1 / std::sqrt(var + eps);
  }
  return st;
}

}  // namespace

std::vector<double> mean_only_forward(const PartialShape& s, const std::vector<double>& x,
                                      const std::vector<double>& gamma,
                                      const std::vector<double>& beta) {
  const ChannelStats st = channel_stats(s, x, 0);
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        y[i] = gamma[c] * (x[i] - st.mean[c]) + beta[c];
      }
  return y;
}

PartialGrads mean_only_backward(const PartialShape& s, const std::vector<double>& x,
                                const std::vector<double>& gamma, const std::vector<double>& dy) {
  const ChannelStats st = channel_stats(s, x, 0);
  const double m = double(s.n * s.h * s.w);
  PartialGrads g{std::vector<double>(x.size()), std::vector<double>(s.c, 0.0),
                 std::vector<double>(s.c, 0.0)};
  for (int64_t c = 0; c < s.c; ++c) {
    double mean_dy = 0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        g.dbeta[c] += dy[i];
        g.dgamma[c] += dy[i] * (x[i] - st.mean[c]);
        mean_dy += dy[i] / m;
      }
    // dx = gamma (dy - mean(dy)): the direct path minus the path through mean_c.
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        g.dx[i] = gamma[c] * (dy[i] - mean_dy);
      }
  }
  return g;
}

std::vector<double> variance_only_forward(const PartialShape& s, const std::vector<double>& x,
                                          const std::vector<double>& gamma,
                                          const std::vector<double>& beta, double eps) {
  const ChannelStats st = channel_stats(s, x, eps);
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        y[i] = gamma[c] * x[i] * st.rstd[c] + beta[c];
      }
  return y;
}

PartialGrads variance_only_backward(const PartialShape& s, const std::vector<double>& x,
                                    const std::vector<double>& gamma, const std::vector<double>& dy,
                                    double eps) {
  const ChannelStats st = channel_stats(s, x, eps);
  const double m = double(s.n * s.h * s.w);
  PartialGrads g{std::vector<double>(x.size()), std::vector<double>(s.c, 0.0),
                 std::vector<double>(s.c, 0.0)};
  for (int64_t c = 0; c < s.c; ++c) {
    double mean_g_x = 0;  // mean(gamma dy x): how strongly the loss pulls on the scale rstd_c
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        g.dbeta[c] += dy[i];
        g.dgamma[c] += dy[i] * x[i] * st.rstd[c];
        mean_g_x += gamma[c] * dy[i] * x[i] / m;
      }
    // y_i = gamma x_i rstd,  d rstd / d x_i = -rstd^3 (x_i - mean) / M, so
    //   dx_i = rstd gamma dy_i  -  rstd^3 (x_i - mean) mean(gamma dy x)
    const double r = st.rstd[c];
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < s.h * s.w; ++p) {
        const int64_t i = s.index(n, c, p);
        g.dx[i] = r * gamma[c] * dy[i] - r * r * r * (x[i] - st.mean[c]) * mean_g_x;
      }
  }
  return g;
}

}  // namespace course
