#include "layers/norm/plane_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "core/parallel.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_loops.hpp"

namespace nl {
namespace {

// The op in steps over ranges of samples [n0, n1), so one code path serves both schedules:
//  - per-sample statistics (GroupNorm, LayerNorm, InstanceNorm: samples_per_stat = 1, batch
//    statistics): every step of a sample needs only that sample's planes, so one parallel loop
//    over samples runs them all while the sample's data is still in cache;
//  - shared statistics (BatchNorm and relatives, or fixed statistics): the reductions run over
//    the whole batch first (the core's parallel kernels), then the elementwise steps.
struct PlaneNormSteps {
  StatLayout s;  // a copy: the steps outlive the caller's layout (the backward runs later)
  double eps;
  NormMath math;
  std::vector<double> g, b;          // gamma, beta per channel
  std::vector<int64_t> stat;         // statistic of each plane
  std::vector<double> mean, var;     // per statistic
  std::vector<double> inv_std;       // per statistic
  std::vector<double> scale, shift;  // forward, per plane
  double count = 0;                  // M: elements per statistic (every rank's, when synced)
  double c_mean() const { return math.subtract_mean ? 1.0 : 0.0; }
  double c_var() const { return math.center_variance ? 1.0 : 0.0; }

  // Statistics [k0, k1) as moments of contiguous blocks (per-sample layouts only).
  void block_stats(const Tensor& x, int64_t k0, int64_t k1) {
    const int64_t block = s.count();
    block_moments(x, block, k0, k1, mean.data(), var.data());
    for (int64_t k = k0; k < k1; ++k) var[k] /= double(block);
  }
  // Statistics [k0, k1): 1/sqrt(var + eps), the variance about 0 when center_variance is off.
  void finish_stats(int64_t k0, int64_t k1, bool batch) {
    for (int64_t k = k0; k < k1; ++k) {
      if (batch && !math.center_variance) var[k] += mean[k] * mean[k];  // var + mean^2
      inv_std[k] = inverse_std(var[k], eps, math);
    }
  }
  // Samples [n0, n1): y = scale x + shift per plane.
  void forward_samples(const Tensor& x, Tensor& y, int64_t n0, int64_t n1) {
    for (int64_t n = n0, p = n0 * s.c; n < n1; ++n)
      for (int64_t c = 0; c < s.c; ++c, ++p) {
        scale[p] = inv_std[stat[p]] * g[c];
        shift[p] = b[c] - c_mean() * mean[stat[p]] * scale[p];
      }
    apply_planes_range(s, x, Tensor(), scale.data(), nullptr, shift.data(), n0 * s.c, n1 * s.c, y);
  }
};

// The backward, from the per-plane sums: dx = a dy + b x + k per plane (docs above).
struct PlaneNormBackward {
  const PlaneNormSteps& f;
  bool batch_stats;
  std::vector<double> sum_dy, sum_dy_xc, a, bx, kx, big_a, big_c, b_stat, k_stat;

  PlaneNormBackward(const PlaneNormSteps& steps, bool batch) : f(steps), batch_stats(batch) {
    const int64_t planes = f.s.n * f.s.c, stats = f.s.num_stats();
    for (auto* v : {&sum_dy, &sum_dy_xc, &a, &bx, &kx}) v->resize(planes);
    for (auto* v : {&big_a, &big_c, &b_stat, &k_stat}) v->assign(stats, 0.0);
  }
  // a, b, k of samples [n0, n1), whose statistics [k0, k1) have all their planes there.
  void coefficients(int64_t n0, int64_t n1, int64_t k0, int64_t k1) {
    if (batch_stats) {
      accumulate(n0, n1);
      finish(k0, k1);
    }
    expand(n0, n1);
  }
  // A_k = sum gamma dy, C_k = sum gamma dy (x - mu) over the statistic's planes in [n0, n1).
  void accumulate(int64_t n0, int64_t n1) {
    for (int64_t n = n0, p = n0 * f.s.c; n < n1; ++n)
      for (int64_t c = 0; c < f.s.c; ++c, ++p) {
        big_a[f.stat[p]] += f.g[c] * sum_dy[p];
        big_c[f.stat[p]] += f.g[c] * sum_dy_xc[p];
      }
  }
  void finish(int64_t k0, int64_t k1) {
    const double m = f.count, cm = f.c_mean(), cv = f.c_var();
    for (int64_t k = k0; k < k1; ++k) {
      const double si = f.inv_std[k], s3 = f.math.divide_std ? si * si * si : 0.0;
      // E = (1/M) sum gamma dy (x - c mu) = (C + (1 - c) mu A) / M
      const double e = (big_c[k] + (1 - cm) * f.mean[k] * big_a[k]) / m;
      b_stat[k] = -s3 * e;
      k_stat[k] = -cm * si * big_a[k] / m + cv * f.mean[k] * s3 * e;
    }
  }
  void expand(int64_t n0, int64_t n1) {
    const StatLayout& s = f.s;
    for (int64_t n = n0, p = n0 * s.c; n < n1; ++n)
      for (int64_t c = 0; c < s.c; ++c, ++p) {
        a[p] = f.inv_std[f.stat[p]] * f.g[c];
        bx[p] = b_stat[f.stat[p]];
        kx[p] = k_stat[f.stat[p]];
      }
  }
  void dx_samples(const Tensor& x, const Tensor& dy, Tensor& dx, int64_t n0, int64_t n1) const {
    apply_planes_range(f.s, dy, batch_stats ? x : Tensor(), a.data(),
                       batch_stats ? bx.data() : nullptr, kx.data(), n0 * f.s.c, n1 * f.s.c, dx);
  }
};

}  // namespace

double inverse_std(double var, double eps, const NormMath& math) {
  const double v = std::max(var, 0.0) + eps;
  return !math.divide_std ? 1.0 : v > 0 ? 1.0 / std::sqrt(v) : 0.0;
}

PlaneNormOutput plane_norm(const Tensor& x_in, const Tensor& gamma, const Tensor& beta,
                           const StatLayout& s, double eps, const Moments* fixed, const char* name,
                           NormMath math, std::shared_ptr<const StatSync> sync) {
  for (const Tensor* p : {&gamma, &beta})
    if (p->defined()) {
      check(p->dim() == 1 && p->shape()[0] == s.c, name, "affine parameter of shape ",
            shape_str(p->shape()), " does not match ", s.c, " channels");
      check(p->dtype() == x_in.dtype(), name, "input is ", x_in.str(), " but parameters are ",
            p->str());
    }
  const Tensor x = x_in.detach().contiguous();
  const int64_t planes = s.n * s.c, stats = s.num_stats();
  const bool batch_stats = fixed == nullptr;
  const bool per_sample = batch_stats && s.samples_per_stat == 1 && !sync;
  check(!sync || !batch_stats || s.samples_per_stat == s.n, name,
        "statistics shared across ranks must pool the whole batch");
  auto f = std::make_shared<PlaneNormSteps>(PlaneNormSteps{
      s, eps, math, affine_values(gamma, s.c, 1.0), affine_values(beta, s.c, 0.0), s.plane_stats(),
      std::vector<double>(stats), std::vector<double>(stats), std::vector<double>(stats),
      std::vector<double>(planes), std::vector<double>(planes)});
  f->count = double(s.count());
  PlaneNormOutput out;
  out.y = Tensor::empty(x.shape(), x.dtype());
  if (per_sample) {
    const int64_t g = s.groups;
    parallel_for(s.n, grain_for(s.c * s.l), [&](int64_t n0, int64_t n1) {
      f->block_stats(x, n0 * g, n1 * g);
      f->finish_stats(n0 * g, n1 * g, true);
      f->forward_samples(x, out.y, n0, n1);
    });
    out.batch = Moments{f->mean, f->var};
  } else {
    Moments m = fixed ? *fixed : compute_moments(s, x);
    if (sync && batch_stats) m = sync->combine(m, f->count, &f->count);
    f->mean = m.mean;
    f->var = m.var;
    f->finish_stats(0, stats, batch_stats);
    if (batch_stats) out.batch = Moments{f->mean, f->var};
    check(!sync || !batch_stats || f->count > 1, name,
          "expected more than 1 value per channel over all ranks when training, got ", f->count);
    parallel_for(s.n, grain_for(s.c * s.l),
                 [&](int64_t n0, int64_t n1) { f->forward_samples(x, out.y, n0, n1); });
  }

  out.count = f->count;
  out.y = record(out.y, name, {x_in, gamma, beta}, [=](const Tensor& gy) {
    const Tensor dy = gy.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    PlaneNormBackward bw(*f, batch_stats);
    if (per_sample) {
      const int64_t g = s.groups;
      parallel_for(s.n, grain_for(s.c * s.l), [&](int64_t n0, int64_t n1) {
        plane_grad_sums_range(s, x, dy, f->stat.data(), f->mean.data(), n0 * s.c, n1 * s.c,
                              bw.sum_dy.data(), bw.sum_dy_xc.data());
        bw.coefficients(n0, n1, n0 * g, n1 * g);
        bw.dx_samples(x, dy, dx, n0, n1);
      });
    } else {
      PlaneGradSums sums = plane_grad_sums(s, x, dy, f->mean);
      bw.sum_dy = std::move(sums.sum_dy);
      bw.sum_dy_xc = std::move(sums.sum_dy_xc);
      if (batch_stats) {
        bw.accumulate(0, s.n);
        if (sync) sync->sum(bw.big_a, bw.big_c);
        bw.finish(0, stats);
      }
      bw.expand(0, s.n);
      parallel_for(s.n, grain_for(s.c * s.l),
                   [&](int64_t n0, int64_t n1) { bw.dx_samples(x, dy, dx, n0, n1); });
    }
    // dbeta_c = sum dy,  dgamma_c = sum dy xhat = s (sum dy (x - mu) + (1 - c) mu sum dy).
    std::vector<double> dgamma(s.c, 0.0), dbeta(s.c, 0.0);
    for (int64_t n = 0, p = 0; n < s.n; ++n)
      for (int64_t c = 0; c < s.c; ++c, ++p) {
        const int64_t k = f->stat[p];
        dgamma[c] +=
            f->inv_std[k] * (bw.sum_dy_xc[p] + (1 - f->c_mean()) * f->mean[k] * bw.sum_dy[p]);
        dbeta[c] += bw.sum_dy[p];
      }
    const DType dt = x.dtype();
    return std::vector<Tensor>{dx,
                               gamma.defined() ? Tensor::from_vector(dgamma, {s.c}, dt) : Tensor(),
                               beta.defined() ? Tensor::from_vector(dbeta, {s.c}, dt) : Tensor()};
  });
  return out;
}

}  // namespace nl
