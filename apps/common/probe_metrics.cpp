#include "apps/common/probe_metrics.hpp"

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

double frobenius_norm(const Tensor& t) {
  double s = 0;
  for (double v : t.detach().contiguous().to_vector()) s += v * v;
  return std::sqrt(s);
}

}  // namespace nl::probe
