#include "apps/common/probe_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nl::probe {

double activation_variance(const Tensor& a) {
  check(a.dim() >= 2, "activation_variance", "expected (N, C, ...), got ", shape_str(a.shape()));
  const int64_t n = a.shape()[0], c = a.shape()[1], l = a.numel() / (n * c);
  check(n * l > 1, "activation_variance", "needs more than one value per channel");
  const std::vector<double> v = a.detach().contiguous().to_vector();
  double total = 0;
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = 0, m2 = 0;
    for (int64_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < l; ++i) mean += v[(s * c + ch) * l + i];
    mean /= double(n * l);
    for (int64_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < l; ++i) {
        const double d = v[(s * c + ch) * l + i] - mean;
        m2 += d * d;
      }
    total += m2 / double(n * l - 1);
  }
  return total / double(c);
}

Similarity sample_similarity(const Tensor& a) {
  check(a.dim() >= 2 && a.shape()[0] >= 2, "sample_similarity",
        "expected at least 2 samples (N, ...), got ", shape_str(a.shape()));
  const int64_t n = a.shape()[0], d = a.numel() / n;
  std::vector<double> m = a.detach().contiguous().to_vector();
  for (int64_t s = 0; s < n; ++s) {
    double norm = 0;
    for (int64_t i = 0; i < d; ++i) norm += m[s * d + i] * m[s * d + i];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < d; ++i) m[s * d + i] = norm > 0 ? m[s * d + i] / norm : 0.0;
  }
  std::vector<double> g(n * n, 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = r; q < n; ++q) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) dot += m[r * d + i] * m[q * d + i];
      g[r * n + q] = g[q * n + r] = dot;
    }
  Similarity out;
  double trace = 0, off = 0;
  for (int64_t r = 0; r < n; ++r) {
    trace += g[r * n + r];
    for (int64_t q = 0; q < n; ++q)
      if (q != r) off += g[r * n + q];
  }
  out.mean_cosine = off / double(n * (n - 1));
  // lambda_max of the symmetric PSD G by power iteration (G has non-negative entries after
  // ReLU, and the iteration converges for any PSD matrix from a positive start).
  std::vector<double> x(n, 1.0 / std::sqrt(double(n))), y(n);
  double lambda = 0;
  for (int it = 0; it < 500; ++it) {
    double norm = 0;
    for (int64_t r = 0; r < n; ++r) {
      double s = 0;
      for (int64_t q = 0; q < n; ++q) s += g[r * n + q] * x[q];
      y[r] = s;
      norm += s * s;
    }
    norm = std::sqrt(norm);
    if (norm == 0) break;
    const double previous = lambda;
    lambda = norm;  // ||G x|| with ||x|| = 1
    for (int64_t r = 0; r < n; ++r) x[r] = y[r] / norm;
    if (std::abs(lambda - previous) <= 1e-12 * lambda) break;
  }
  out.stable_rank = lambda > 0 ? trace / lambda : 0.0;
  return out;
}

PowerParts power_decomposition(const Tensor& y) {
  check(y.dim() >= 2, "power_decomposition", "expected (N, C, ...), got ", shape_str(y.shape()));
  const int64_t n = y.shape()[0], c = y.shape()[1], l = y.numel() / std::max<int64_t>(1, n * c);
  check(n * c * l > 0, "power_decomposition", "empty input ", shape_str(y.shape()));
  const std::vector<double> v = y.detach().contiguous().to_vector();
  PowerParts p;
  std::vector<double> instance_mean(n);
  for (int64_t ch = 0; ch < c; ++ch) {
    double channel_mean = 0;
    for (int64_t s = 0; s < n; ++s) {
      const double* row = v.data() + (s * c + ch) * l;
      double mean = 0, m2 = 0;
      for (int64_t i = 0; i < l; ++i) mean += row[i];
      mean /= double(l);
      for (int64_t i = 0; i < l; ++i) m2 += (row[i] - mean) * (row[i] - mean);
      instance_mean[s] = mean;
      channel_mean += mean / double(n);
      p.instance_varying += m2 / double(l) / double(n * c);
    }
    p.channel_constant += channel_mean * channel_mean / double(c);
    for (int64_t s = 0; s < n; ++s)
      p.instance_constant +=
          (instance_mean[s] - channel_mean) * (instance_mean[s] - channel_mean) / double(n * c);
  }
  p.total = p.channel_constant + p.instance_constant + p.instance_varying;
  if (p.total > 0) {
    p.channel_constant /= p.total;
    p.instance_constant /= p.total;
    p.instance_varying /= p.total;
  }
  return p;
}

double frobenius_norm(const Tensor& t) {
  double s = 0;
  for (double v : t.detach().contiguous().to_vector()) s += v * v;
  return std::sqrt(s);
}

}  // namespace nl::probe
