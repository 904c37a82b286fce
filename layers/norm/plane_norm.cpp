#include "layers/norm/plane_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"

namespace nl {
namespace {

std::vector<double> channel_values(const Tensor& t, int64_t c, double fallback) {
  return t.defined() ? t.to_vector() : std::vector<double>(c, fallback);
}

}  // namespace

PlaneNormOutput plane_norm(const Tensor& x_in, const Tensor& gamma, const Tensor& beta,
                           const StatLayout& s, double eps, const Moments* fixed, const char* name,
                           NormMath math) {
  for (const Tensor* p : {&gamma, &beta})
    if (p->defined()) {
      check(p->dim() == 1 && p->shape()[0] == s.c, name, "affine parameter of shape ",
            shape_str(p->shape()), " does not match ", s.c, " channels");
      check(p->dtype() == x_in.dtype(), name, "input is ", x_in.str(), " but parameters are ",
            p->str());
    }
  const Tensor x = x_in.detach().contiguous();
  PlaneNormOutput out;
  Moments stats = fixed ? *fixed : compute_moments(s, x);
  if (!fixed && !math.center_variance)  // second moment about 0: var + mean^2
    for (size_t k = 0; k < stats.var.size(); ++k) stats.var[k] += stats.mean[k] * stats.mean[k];
  if (!fixed) out.batch = stats;
  const double c_mean = math.subtract_mean ? 1.0 : 0.0, c_var = math.center_variance ? 1.0 : 0.0;

  const std::vector<double> g = channel_values(gamma, s.c, 1.0), b = channel_values(beta, s.c, 0.0);
  std::vector<double> inv_std(s.num_stats());
  for (int64_t k = 0; k < s.num_stats(); ++k) {
    const double v = std::max(stats.var[k], 0.0) + eps;
    inv_std[k] = !math.divide_std ? 1.0
                 : v > 0          ? 1.0 / std::sqrt(v)
                                  : 0.0;  // PyTorch: invstd := 0 when var = eps = 0
  }
  const int64_t planes = s.n * s.c;
  const std::vector<int64_t> stat = s.plane_stats();
  std::vector<double> scale(planes), shift(planes);
  for (int64_t n = 0, p = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c, ++p) {
      const int64_t k = stat[p];
      scale[p] = inv_std[k] * g[c];
      shift[p] = b[c] - c_mean * stats.mean[k] * scale[p];
    }
  out.y = Tensor::empty(x.shape(), x.dtype());
  apply_planes(s, x, Tensor(), scale, {}, shift, out.y);

  const bool batch_stats = fixed == nullptr;
  out.y = record(out.y, name, {x_in, gamma, beta}, [=, mean = stats.mean](const Tensor& gy) {
    const Tensor dy = gy.contiguous();
    const PlaneGradSums sums = plane_grad_sums(s, x, dy, mean);
    // One pass over the planes for the per-statistic sums and the affine gradients:
    //   dbeta_c = sum dy,  dgamma_c = sum dy xhat = s (sum dy (x - mu) + (1 - c) mu sum dy).
    std::vector<double> A(s.num_stats(), 0.0), C(s.num_stats(), 0.0);
    std::vector<double> dgamma(s.c, 0.0), dbeta(s.c, 0.0);
    for (int64_t n = 0, p = 0; n < s.n; ++n)
      for (int64_t c = 0; c < s.c; ++c, ++p) {
        const int64_t st = stat[p];
        A[st] += g[c] * sums.sum_dy[p];
        C[st] += g[c] * sums.sum_dy_xc[p];
        dgamma[c] += inv_std[st] * (sums.sum_dy_xc[p] + (1 - c_mean) * mean[st] * sums.sum_dy[p]);
        dbeta[c] += sums.sum_dy[p];
      }
    // Per statistic, then per plane: dx = a dy + b x + k.
    std::vector<double> b_stat(s.num_stats(), 0.0), k_stat(s.num_stats(), 0.0);
    if (batch_stats) {
      const double m = double(s.count());
      for (int64_t st = 0; st < s.num_stats(); ++st) {
        const double si = inv_std[st], s3 = math.divide_std ? si * si * si : 0.0;
        // E = (1/M) sum gamma dy (x - c mu) = (C + (1 - c) mu A) / M
        const double e = (C[st] + (1 - c_mean) * mean[st] * A[st]) / m;
        b_stat[st] = -s3 * e;
        k_stat[st] = -c_mean * si * A[st] / m + c_var * mean[st] * s3 * e;
      }
    }
    std::vector<double> a(planes), bx(planes), k(planes);
    for (int64_t n = 0, p = 0; n < s.n; ++n)
      for (int64_t c = 0; c < s.c; ++c, ++p) {
        const int64_t st = stat[p];
        a[p] = inv_std[st] * g[c];
        bx[p] = b_stat[st];
        k[p] = k_stat[st];
      }
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    apply_planes(s, dy, batch_stats ? x : Tensor(), a, batch_stats ? bx : std::vector<double>{}, k,
                 dx);

    const DType dt = x.dtype();
    return std::vector<Tensor>{dx,
                               gamma.defined() ? Tensor::from_vector(dgamma, {s.c}, dt) : Tensor(),
                               beta.defined() ? Tensor::from_vector(dbeta, {s.c}, dt) : Tensor()};
  });
  return out;
}

}  // namespace nl
