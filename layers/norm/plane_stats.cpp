#include "layers/norm/plane_stats.hpp"

#include <utility>

#include "core/parallel.hpp"

namespace nl {

StatLayout StatLayout::of(const Tensor& x, int64_t groups, int64_t samples_per_stat,
                          const char* layer) {
  check(x.dim() >= 2, layer, "expected input (N, C, ...), got ", shape_str(x.shape()));
  StatLayout s;
  s.n = x.shape()[0];
  s.c = x.shape()[1];
  s.l = 1;
  for (int64_t d = 2; d < x.dim(); ++d) s.l *= x.shape()[d];
  s.groups = groups;
  s.samples_per_stat = samples_per_stat == 0 ? s.n : samples_per_stat;
  check(s.samples_per_stat >= 1 && s.n % s.samples_per_stat == 0, layer, "batch of ", s.n,
        " samples cannot be split into groups of ", s.samples_per_stat, " (virtual batch size)");
  check(groups >= 1 && s.c % groups == 0, layer, "num_groups=", groups,
        " must divide the number of channels ", s.c);
  return s;
}

std::vector<int64_t> StatLayout::plane_stats() const {
  std::vector<int64_t> group_of(c), out(n * c);
  for (int64_t ch = 0; ch < c; ++ch) group_of[ch] = ch / (c / groups);
  for (int64_t s = 0; s < n; ++s) {
    const int64_t base = (s / samples_per_stat) * groups;
    for (int64_t ch = 0; ch < c; ++ch) out[s * c + ch] = base + group_of[ch];
  }
  return out;
}

namespace {

// Sum of f(0..n-1) in double over 8 independent lanes: the lanes break the add-latency chain
// (the compiler can vectorise them without reassociating anything), and the fixed lane order
// keeps the result deterministic. About 4x faster than one accumulator on CIFAR planes.
template <typename F>
[[gnu::always_inline]] inline double lane_sum(int64_t n, F f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += f(i + j);
  for (int j = 0; i < n; ++i, ++j) acc[j] += f(i);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Two such sums in one pass over the data (each with its own 8 lanes).
template <typename F>
[[gnu::always_inline]] inline std::pair<double, double> lane_sum2(int64_t n, F f) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const auto [u, v] = f(i + j);
      a[j] += u, b[j] += v;
    }
  for (int j = 0; i < n; ++i, ++j) {
    const auto [u, v] = f(i);
    a[j] += u, b[j] += v;
  }
  return {((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])),
          ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]))};
}

// The per-plane loops, each compiled twice (target_clones): with AVX2 and for the baseline
// x86-64, chosen when the program loads, so one binary uses the wide vectors where the CPU has
// them. Both clones do the same IEEE operations in the same order (no FMA contraction across
// clones): results are bit-identical on every machine.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define NL_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NL_VECTOR_CLONES
#endif

template <typename T>
[[gnu::always_inline]] inline void moments_rows(const T* px, int64_t l, int64_t b, int64_t e,
                                                double* pmean, double* pm2) {
  for (int64_t p = b; p < e; ++p) {
    const T* row = px + p * l;
    const double m = lane_sum(l, [&](int64_t i) { return double(row[i]); }) / double(l);
    pmean[p] = m;
    pm2[p] = lane_sum(l, [&](int64_t i) {
      const double d = double(row[i]) - m;
      return d * d;
    });
  }
}
NL_VECTOR_CLONES void moments_kernel(const float* px, int64_t l, int64_t b, int64_t e,
                                     double* pmean, double* pm2) {
  moments_rows(px, l, b, e, pmean, pm2);
}
NL_VECTOR_CLONES void moments_kernel(const double* px, int64_t l, int64_t b, int64_t e,
                                     double* pmean, double* pm2) {
  moments_rows(px, l, b, e, pmean, pm2);
}

template <typename T>
[[gnu::always_inline]] inline void grad_sum_rows(const T* px, const T* pg, int64_t l,
                                                 const int64_t* stat, const double* mean, int64_t b,
                                                 int64_t e, double* sum_dy, double* sum_dy_xc) {
  for (int64_t p = b; p < e; ++p) {
    const T m = T(mean[stat[p]]);
    const T* xr = px + p * l;
    const T* gr = pg + p * l;
    const auto [dy, dy_xc] = lane_sum2(l, [&](int64_t i) {
      return std::pair{double(gr[i]), double(gr[i]) * double(xr[i] - m)};
    });
    sum_dy[p] = dy;
    sum_dy_xc[p] = dy_xc;
  }
}
NL_VECTOR_CLONES void grad_sum_kernel(const float* px, const float* pg, int64_t l,
                                      const int64_t* stat, const double* mean, int64_t b, int64_t e,
                                      double* sum_dy, double* sum_dy_xc) {
  grad_sum_rows(px, pg, l, stat, mean, b, e, sum_dy, sum_dy_xc);
}
NL_VECTOR_CLONES void grad_sum_kernel(const double* px, const double* pg, int64_t l,
                                      const int64_t* stat, const double* mean, int64_t b, int64_t e,
                                      double* sum_dy, double* sum_dy_xc) {
  grad_sum_rows(px, pg, l, stat, mean, b, e, sum_dy, sum_dy_xc);
}

template <typename T>
[[gnu::always_inline]] inline void apply_rows(const T* pu, const T* pv, int64_t l, const double* a,
                                              const double* b, const double* k, int64_t lo,
                                              int64_t hi, T* po) {
  for (int64_t p = lo; p < hi; ++p) {
    const T ap = T(a[p]), kp = T(k[p]);
    const T* ur = pu + p * l;
    T* orow = po + p * l;
    if (pv && b && b[p] != 0) {
      const T bp = T(b[p]);
      const T* vr = pv + p * l;
      for (int64_t i = 0; i < l; ++i) orow[i] = ap * ur[i] + bp * vr[i] + kp;
    } else {
      for (int64_t i = 0; i < l; ++i) orow[i] = ap * ur[i] + kp;
    }
  }
}
NL_VECTOR_CLONES void apply_kernel(const float* pu, const float* pv, int64_t l, const double* a,
                                   const double* b, const double* k, int64_t lo, int64_t hi,
                                   float* po) {
  apply_rows(pu, pv, l, a, b, k, lo, hi, po);
}
NL_VECTOR_CLONES void apply_kernel(const double* pu, const double* pv, int64_t l, const double* a,
                                   const double* b, const double* k, int64_t lo, int64_t hi,
                                   double* po) {
  apply_rows(pu, pv, l, a, b, k, lo, hi, po);
}

// Planes per task: enough work to amortise scheduling on small planes (8x8 maps).
int64_t plane_grain(int64_t l) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(l, 1));
}
}  // namespace

Moments compute_moments(const StatLayout& s, const Tensor& x) {
  const int64_t planes = s.n * s.c;
  std::vector<double> pmean(planes), pm2(planes);
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    parallel_for(planes, plane_grain(s.l), [&](int64_t b, int64_t e) {
      moments_kernel(px, s.l, b, e, pmean.data(), pm2.data());
    });
  });
  // Chan et al. merge of equal-sized planes, in (n, c) order: deterministic.
  Moments out{std::vector<double>(s.num_stats(), 0.0), std::vector<double>(s.num_stats(), 0.0)};
  std::vector<double> count(s.num_stats(), 0.0);
  const double l = double(s.l);
  const std::vector<int64_t> stat = s.plane_stats();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c) {
      const int64_t p = n * s.c + c, k = stat[p];
      const double na = count[k], nb = l, nab = na + nb;
      const double delta = pmean[p] - out.mean[k];
      out.mean[k] += delta * nb / nab;
      out.var[k] += pm2[p] + delta * delta * na * nb / nab;  // accumulates M2 for now
      count[k] = nab;
    }
  for (int64_t k = 0; k < s.num_stats(); ++k) out.var[k] /= count[k];
  return out;
}

PlaneGradSums plane_grad_sums(const StatLayout& s, const Tensor& x, const Tensor& dy,
                              const std::vector<double>& mean) {
  const int64_t planes = s.n * s.c;
  PlaneGradSums out{std::vector<double>(planes), std::vector<double>(planes)};
  const std::vector<int64_t> stat = s.plane_stats();
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    const T* pg = dy.data<T>();
    parallel_for(planes, plane_grain(s.l), [&](int64_t b, int64_t e) {
      grad_sum_kernel(px, pg, s.l, stat.data(), mean.data(), b, e, out.sum_dy.data(),
                      out.sum_dy_xc.data());
    });
  });
  return out;
}

void apply_planes(const StatLayout& s, const Tensor& u, const Tensor& v,
                  const std::vector<double>& a, const std::vector<double>& b,
                  const std::vector<double>& k, Tensor& out) {
  const int64_t planes = s.n * s.c;
  dispatch(u.dtype(), [&]<typename T>() {
    const T* pu = u.data<T>();
    const T* pv = v.defined() ? v.data<T>() : nullptr;
    T* po = out.data<T>();
    parallel_for(planes, plane_grain(s.l), [&](int64_t lo, int64_t hi) {
      apply_kernel(pu, pv, s.l, a.data(), b.empty() ? nullptr : b.data(), k.data(), lo, hi, po);
    });
  });
}

std::vector<Tensor> plane_backward(const StatLayout& layout, const Tensor& dy, const Tensor& x,
                                   const std::vector<double>& a, const std::vector<double>& b,
                                   const std::vector<double>& k, const Tensor& gamma,
                                   const std::vector<double>& dgamma,
                                   const std::vector<double>& dbeta) {
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  apply_planes(layout, dy, b.empty() ? Tensor() : x, a, b, k, dx);
  std::vector<Tensor> grads{dx};
  if (gamma.defined()) {
    grads.push_back(Tensor::from_vector(dgamma, {layout.c}, gamma.dtype()));
    grads.push_back(Tensor::from_vector(dbeta, {layout.c}, gamma.dtype()));
  }
  return grads;
}

}  // namespace nl
