#include "layers/norm/reference/weight_norm_reference.hpp"

#include <cmath>

namespace nl::reference {
namespace {

double row_norm(const WeightNormShape& s, const std::vector<double>& v, int64_t k) {
  double sq = 0;
  for (int64_t f = 0; f < s.fan_in; ++f) sq += v[k * s.fan_in + f] * v[k * s.fan_in + f];
  return std::sqrt(sq);
}

}  // namespace

std::vector<double> weight_norm_forward(const WeightNormShape& s, const std::vector<double>& v,
                                        const std::vector<double>& g) {
  std::vector<double> w(v.size());
  for (int64_t k = 0; k < s.rows; ++k) {
    const double scale = g[k] / row_norm(s, v, k);  // w_k = g_k v_k / ||v_k||
    for (int64_t f = 0; f < s.fan_in; ++f) w[k * s.fan_in + f] = scale * v[k * s.fan_in + f];
  }
  return w;
}

WeightNormBackward weight_norm_backward(const WeightNormShape& s, const std::vector<double>& v,
                                        const std::vector<double>& g,
                                        const std::vector<double>& dw) {
  WeightNormBackward b{std::vector<double>(v.size()), std::vector<double>(s.rows)};
  for (int64_t k = 0; k < s.rows; ++k) {
    const double norm = row_norm(s, v, k);
    // <dw_k, u_k> with u_k = v_k / ||v_k||: the gain's gradient, and the radial part of dw_k
    double radial = 0;
    for (int64_t f = 0; f < s.fan_in; ++f) radial += dw[k * s.fan_in + f] * v[k * s.fan_in + f];
    radial /= norm;
    b.dg[k] = radial;
    // dv_k = g_k / ||v_k|| (dw_k - u_k <dw_k, u_k>): dw_k with its component along v_k removed
    for (int64_t f = 0; f < s.fan_in; ++f) {
      const int64_t i = k * s.fan_in + f;
      b.dv[i] = g[k] / norm * (dw[i] - v[i] / norm * radial);
    }
  }
  return b;
}

}  // namespace nl::reference
