#include "weight_standardization.hpp"

#include <cmath>

namespace course {
namespace {

struct RowStats {
  double mean, rstd;
};
RowStats row_stats(const WeightShape& s, const std::vector<double>& v, int64_t k, double eps) {
  const double* row = v.data() + k * s.fan_in;
  double mean = 0, var = 0;
  for (int64_t f = 0; f < s.fan_in; ++f) mean += row[f] / double(s.fan_in);
  for (int64_t f = 0; f < s.fan_in; ++f)
    var += (row[f] - mean) * (row[f] - mean) / double(s.fan_in);
  return {mean, 1 / std::sqrt(var + eps)};
}

}  // namespace

std::vector<double> ws_forward(const WeightShape& s, const std::vector<double>& v, double eps) {
  std::vector<double> w(v.size());
  for (int64_t k = 0; k < s.rows; ++k) {
    const RowStats st = row_stats(s, v, k, eps);
    for (int64_t f = 0; f < s.fan_in; ++f) {
      const int64_t i = k * s.fan_in + f;
      w[i] = (v[i] - st.mean) * st.rstd;
    }
  }
  return w;
}

std::vector<double> ws_backward(const WeightShape& s, const std::vector<double>& v,
                                const std::vector<double>& dw, double eps) {
  std::vector<double> dv(v.size());
  for (int64_t k = 0; k < s.rows; ++k) {
    const RowStats st = row_stats(s, v, k, eps);
    double mean_dw = 0, mean_dw_w = 0;
    for (int64_t f = 0; f < s.fan_in; ++f) {
      const int64_t i = k * s.fan_in + f;
      mean_dw += dw[i] / double(s.fan_in);
      mean_dw_w += dw[i] * (v[i] - st.mean) * st.rstd / double(s.fan_in);
    }
    // dv = rstd (dw - mean(dw) - w mean(dw w)): the per-row projection of exercise 4.1.
    for (int64_t f = 0; f < s.fan_in; ++f) {
      const int64_t i = k * s.fan_in + f;
      const double w = (v[i] - st.mean) * st.rstd;
      dv[i] = st.rstd * (dw[i] - mean_dw - w * mean_dw_w);
    }
  }
  return dv;
}

}  // namespace course
