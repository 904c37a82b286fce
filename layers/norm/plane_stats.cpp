#include "layers/norm/plane_stats.hpp"

#include <algorithm>
#include <utility>

#include "core/parallel.hpp"
#include "core/simd.hpp"
#include "layers/norm/plane_loops.hpp"

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

// The per-plane loops, each compiled three times (NL_VECTOR_CLONES, core/simd.hpp): for
// AVX-512, for AVX2 and for the baseline x86-64. All clones do the same IEEE operations in the
// same order (8 fixed lanes, and this file is compiled with -ffp-contract=off so no clone fuses a
// multiply-add): results are bit-identical on every machine.

// Two passes in double (the mean, then squared deviations), each a simd::reduce_sum: fixed
// lanes that vectorise and keep the result deterministic.
NL_VECTOR_CLONES void moments_kernel(const double* px, int64_t l, int64_t b, int64_t e,
                                     double* pmean, double* pm2) {
  for (int64_t p = b; p < e; ++p) {
    const double* row = px + p * l;
    const double m = simd::reduce_sum(
                         l, [&](int64_t i) { return simd::load8(row + i); },
                         [&](int64_t i) { return double(row[i]); }) /
                     double(l);
    pmean[p] = m;
    pm2[p] = simd::reduce_sum(
        l,
        [&](int64_t i) {
          const simd::f64x8 d = simd::load8(row + i) - m;
          return d * d;
        },
        [&](int64_t i) {
          const double d = double(row[i]) - m;
          return d * d;
        });
  }
}
// sum (x - m) and sum (x - m)^2 over a float row in one pass, with reduce_sum_f32's blocking
// and lane order for each sum: the same bits as two reduce_sum_f32 passes, half the reads.
[[gnu::always_inline]] inline void float_deviation_sums(const float* row, int64_t l, float m,
                                                        double& dev, double& dev2) {
  using simd::f32x16, simd::f64x8;
  f64x8 d_lo = {}, d_hi = {}, q_lo = {}, q_hi = {};
  int64_t i = 0;
  while (i + 16 <= l) {
    const int64_t block_end = std::min(l, i + 256);
    f32x16 d = {}, q = {};
    for (; i + 16 <= block_end; i += 16) {
      const f32x16 v = simd::load16(row + i) - m;
      d += v;
      q += v * v;
    }
    d_lo += simd::widen_low(d), d_hi += simd::widen_high(d);
    q_lo += simd::widen_low(q), q_hi += simd::widen_high(q);
  }
  for (int j = 0; i < l; ++i, ++j) {
    const double v = double(row[i] - m);
    d_lo[j % 8] += v;
    q_lo[j % 8] += v * v;
  }
  dev = simd::hsum(d_lo + d_hi);
  dev2 = simd::hsum(q_lo + q_hi);
}

// Float rows: the same passes at float width (simd::reduce_sum_f32). The mean is summed about
// the row's first element x0 (so offset data, e.g. 100 + 0.01 N(0,1), sums small exact
// differences), and the deviations are taken from the mean rounded to float, m_f, with the
// exact correction  sum (x - m)^2 = sum (x - m_f)^2 - (sum (x - m_f))^2 / l.
NL_VECTOR_CLONES void moments_kernel(const float* px, int64_t l, int64_t b, int64_t e,
                                     double* pmean, double* pm2) {
  for (int64_t p = b; p < e; ++p) {
    const float* row = px + p * l;
    const float x0 = l > 0 ? row[0] : 0.0f;
    const double m = double(x0) + simd::reduce_sum_f32(
                                      l, [&](int64_t i) { return simd::load16(row + i) - x0; },
                                      [&](int64_t i) { return double(row[i] - x0); }) /
                                      double(l);
    double dev = 0, dev2 = 0;
    float_deviation_sums(row, l, float(m), dev, dev2);
    pmean[p] = m;
    pm2[p] = std::max(0.0, dev2 - dev * dev / double(l));
  }
}

// The backward's two sums for a float plane: 16 float lanes, flushed into double lanes every
// 256 elements, so no float partial sum has more than 16 terms (relative rounding error below
// 1e-6) while the inner loop runs at float width, twice the elements per instruction of the
// double lanes. Fixed order: deterministic, and the same on every clone.
[[gnu::always_inline]] inline void float_plane_grad_sums(const float* xr, const float* gr,
                                                         int64_t l, float m, double& sum_dy,
                                                         double& sum_dy_xc) {
  using simd::f32x16, simd::f64x8;
  f64x8 dy_lo = {}, dy_hi = {}, xc_lo = {}, xc_hi = {};
  int64_t i = 0;
  while (i + 16 <= l) {
    const int64_t block_end = std::min(l, i + 256);
    f32x16 dy = {}, xc = {};
    for (; i + 16 <= block_end; i += 16) {
      const f32x16 g = simd::load16(gr + i);
      dy += g;
      xc += g * (simd::load16(xr + i) - m);
    }
    dy_lo += simd::widen_low(dy), dy_hi += simd::widen_high(dy);
    xc_lo += simd::widen_low(xc), xc_hi += simd::widen_high(xc);
  }
  for (int j = 0; i < l; ++i, ++j) {
    dy_lo[j % 8] += double(gr[i]);
    xc_lo[j % 8] += double(gr[i]) * double(xr[i] - m);
  }
  sum_dy = simd::hsum(dy_lo + dy_hi);
  sum_dy_xc = simd::hsum(xc_lo + xc_hi);
}

// Double planes (the gradchecks): two accumulators of 8 double lanes per sum, to keep
// additions in flight; fixed order as in simd::reduce_sum.
[[gnu::always_inline]] inline void double_plane_grad_sums(const double* xr, const double* gr,
                                                          int64_t l, double m, double& sum_dy,
                                                          double& sum_dy_xc) {
  using simd::f64x8;
  f64x8 sdy0 = {}, sdy1 = {}, sxc0 = {}, sxc1 = {};
  int64_t i = 0;
  for (; i + 16 <= l; i += 16) {
    const f64x8 g0 = simd::load8(gr + i), g1 = simd::load8(gr + i + 8);
    sdy0 += g0;
    sdy1 += g1;
    sxc0 += g0 * (simd::load8(xr + i) - m);
    sxc1 += g1 * (simd::load8(xr + i + 8) - m);
  }
  for (; i + 8 <= l; i += 8) {
    const f64x8 g = simd::load8(gr + i);
    sdy0 += g;
    sxc0 += g * (simd::load8(xr + i) - m);
  }
  for (int j = 0; i < l; ++i, ++j) {
    sdy1[j] += gr[i];
    sxc1[j] += gr[i] * (xr[i] - m);
  }
  sum_dy = simd::hsum(sdy0 + sdy1);
  sum_dy_xc = simd::hsum(sxc0 + sxc1);
}
NL_VECTOR_CLONES void grad_sum_kernel(const float* px, const float* pg, int64_t l,
                                      const int64_t* stat, const double* mean, int64_t b, int64_t e,
                                      double* sum_dy, double* sum_dy_xc) {
  for (int64_t p = b; p < e; ++p)
    float_plane_grad_sums(px + p * l, pg + p * l, l, float(mean[stat[p]]), sum_dy[p], sum_dy_xc[p]);
}
NL_VECTOR_CLONES void grad_sum_kernel(const double* px, const double* pg, int64_t l,
                                      const int64_t* stat, const double* mean, int64_t b, int64_t e,
                                      double* sum_dy, double* sum_dy_xc) {
  for (int64_t p = b; p < e; ++p)
    double_plane_grad_sums(px + p * l, pg + p * l, l, mean[stat[p]], sum_dy[p], sum_dy_xc[p]);
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

}  // namespace

Moments compute_moments(const StatLayout& s, const Tensor& x) {
  Moments out{std::vector<double>(s.num_stats()), std::vector<double>(s.num_stats())};
  if (s.samples_per_stat == 1) {
    // GroupNorm, LayerNorm, InstanceNorm: the elements of statistic k = (n, g) are one
    // contiguous block of C/G planes, so its moments are one two-pass reduction over the block
    // (no per-plane partial results to merge).
    const int64_t block = (s.c / s.groups) * s.l;
    dispatch(x.dtype(), [&]<typename T>() {
      const T* px = x.data<T>();
      parallel_for(s.num_stats(), grain_for(block), [&](int64_t b, int64_t e) {
        moments_kernel(px, block, b, e, out.mean.data(), out.var.data());
      });
    });
    for (double& m2 : out.var) m2 /= double(block);
    return out;
  }
  // Batch statistics: moments per plane, then merged over the P = S C/G equal-sized planes of
  // each statistic by the parallel-axis theorem,
  //   mean = (1/P) sum_p mean_p,   M2 = sum_p M2_p + L sum_p (mean_p - mean)^2,
  // two passes over the plane means (accurate for offset data, no divisions per plane), each
  // statistic over its planes in (n, c) order: independent of the thread count.
  const int64_t planes = s.n * s.c;
  std::vector<double> pmean(planes), pm2(planes);
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    parallel_for(planes, grain_for(s.l), [&](int64_t b, int64_t e) {
      moments_kernel(px, s.l, b, e, pmean.data(), pm2.data());
    });
  });
  const int64_t per_group = s.c / s.groups;
  const double num_planes = double(s.samples_per_stat * per_group);
  parallel_for(s.num_stats(), std::max<int64_t>(1, 4096 / (s.samples_per_stat * per_group)),
               [&](int64_t b, int64_t e) {
                 for (int64_t k = b; k < e; ++k) {
                   const int64_t n0 = (k / s.groups) * s.samples_per_stat;
                   const int64_t c0 = (k % s.groups) * per_group;
                   auto for_planes = [&](auto f) {
                     for (int64_t n = n0; n < n0 + s.samples_per_stat; ++n)
                       for (int64_t p = n * s.c + c0; p < n * s.c + c0 + per_group; ++p) f(p);
                   };
                   double mean = 0, m2 = 0, spread = 0;
                   for_planes([&](int64_t p) { mean += pmean[p]; });
                   mean /= num_planes;
                   for_planes([&](int64_t p) {
                     const double d = pmean[p] - mean;
                     m2 += pm2[p];
                     spread += d * d;
                   });
                   out.mean[k] = mean;
                   out.var[k] = (m2 + double(s.l) * spread) / (num_planes * double(s.l));
                 }
               });
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
    parallel_for(planes, grain_for(s.l), [&](int64_t b, int64_t e) {
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
    parallel_for(planes, grain_for(s.l), [&](int64_t lo, int64_t hi) {
      apply_kernel(pu, pv, s.l, a.data(), b.empty() ? nullptr : b.data(), k.data(), lo, hi, po);
    });
  });
}

void block_moments(const Tensor& x, int64_t block_len, int64_t k0, int64_t k1, double* mean,
                   double* m2) {
  dispatch(x.dtype(),
           [&]<typename T>() { moments_kernel(x.data<T>(), block_len, k0, k1, mean, m2); });
}

void plane_grad_sums_range(const StatLayout& s, const Tensor& x, const Tensor& dy,
                           const int64_t* stat, const double* mean, int64_t p0, int64_t p1,
                           double* sum_dy, double* sum_dy_xc) {
  dispatch(x.dtype(), [&]<typename T>() {
    grad_sum_kernel(x.data<T>(), dy.data<T>(), s.l, stat, mean, p0, p1, sum_dy, sum_dy_xc);
  });
}

void apply_planes_range(const StatLayout& s, const Tensor& u, const Tensor& v, const double* a,
                        const double* b, const double* k, int64_t p0, int64_t p1, Tensor& out) {
  dispatch(u.dtype(), [&]<typename T>() {
    apply_kernel(u.data<T>(), v.defined() ? v.data<T>() : nullptr, s.l, a, b, k, p0, p1,
                 out.data<T>());
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
