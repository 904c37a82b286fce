// The shared statistics core of every activation normalizer that works on (n, c) planes.
//
// Input is viewed as (N, C, L): L = H*W for images, 1 for (N, C) features. The N*C planes are
// pooled into statistic groups by two numbers:
//   groups            G: channels c and c' share statistics iff c/(C/G) == c'/(C/G)
//   samples_per_stat  S: samples n and n' share them iff n/S == n'/S (S = N: batch statistics)
// which covers the family:
//   BatchNorm      G = C, S = N           InstanceNorm  G = C, S = 1
//   GroupNorm      G,     S = 1           LayerNorm     G = 1, S = 1
//   BatchGroupNorm G,     S = N           Ghost BatchNorm G = C, S = virtual batch size
//
// Moments are two-pass (mean, then sum of squared deviations): over each statistic's contiguous
// block when S = 1, else per plane and then merged over the statistic's planes by the
// parallel-axis theorem in a fixed order. Float data is summed in 16 float lanes flushed into
// double every 256 elements (about the block's first element, with the exact correction for the
// rounded mean), double data in double lanes: accurate for offset data, identical for any
// thread count and on every instruction set (target_clones, no FMA contraction).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.hpp"

namespace nl {

struct StatLayout {
  int64_t n = 1, c = 1, l = 1;  // samples, channels, elements per plane
  int64_t groups = 1;
  int64_t samples_per_stat = 1;

  // Views x as (N, C, L); samples_per_stat = 0 means the whole batch. Throws naming `layer`
  // unless x has at least 2 dims, G divides C and S divides N.
  static StatLayout of(const Tensor& x, int64_t groups, int64_t samples_per_stat,
                       const char* layer);
  int64_t sample_groups() const { return n / samples_per_stat; }
  int64_t num_stats() const { return sample_groups() * groups; }
  int64_t stat_of(int64_t sample, int64_t channel) const {
    return (sample / samples_per_stat) * groups + channel / (c / groups);
  }
  int64_t count() const { return samples_per_stat * (c / groups) * l; }  // elements per stat
  // stat_of for every plane n * c + c', computed with N + C divisions instead of several per
  // plane (the per-plane loops of small maps were spending their time dividing).
  std::vector<int64_t> plane_stats() const;
};

struct Moments {
  std::vector<double> mean, var;  // per statistic, var biased (divided by count)
};

// x must be contiguous (N, C, L) of float or double.
Moments compute_moments(const StatLayout& layout, const Tensor& x);

// Per plane: sum dy and sum dy * (x - mean[stat]), the two reductions every backward needs.
struct PlaneGradSums {
  std::vector<double> sum_dy, sum_dy_xc;  // N*C entries
};
PlaneGradSums plane_grad_sums(const StatLayout& layout, const Tensor& x, const Tensor& dy,
                              const std::vector<double>& mean);

// out[n, c, :] = a[n*C+c] * u[n, c, :] + b[n*C+c] * v[n, c, :] + k[n*C+c].
// With v undefined the middle term is dropped. The one elementwise pass of every forward
// (u = x, b = 0) and backward (u = dy, v = x).
void apply_planes(const StatLayout& layout, const Tensor& u, const Tensor& v,
                  const std::vector<double>& a, const std::vector<double>& b,
                  const std::vector<double>& k, Tensor& out);

// Serial building blocks of the three passes above, over planes [p0, p1) (statistic blocks
// [k0, k1) for block_moments), for callers that fuse several steps per sample inside one
// parallel loop (plane_norm's GroupNorm/LayerNorm/InstanceNorm path). x, dy, u, v, out
// contiguous (N, C, L).
//   block_moments: mean and sum of squared deviations (not divided) of blocks of `block_len`
//                  contiguous elements.
void block_moments(const Tensor& x, int64_t block_len, int64_t k0, int64_t k1, double* mean,
                   double* m2);
void plane_grad_sums_range(const StatLayout& layout, const Tensor& x, const Tensor& dy,
                           const int64_t* stat, const double* mean, int64_t p0, int64_t p1,
                           double* sum_dy, double* sum_dy_xc);
void apply_planes_range(const StatLayout& layout, const Tensor& u, const Tensor& v, const double* a,
                        const double* b, const double* k, int64_t p0, int64_t p1, Tensor& out);

// The end of a per-plane-coefficient backward: {dx = a dy + b x + k (b empty: a dy + k), and,
// when the layer is affine (gamma defined), dgamma and dbeta in gamma's dtype}.
std::vector<Tensor> plane_backward(const StatLayout& layout, const Tensor& dy, const Tensor& x,
                                   const std::vector<double>& a, const std::vector<double>& b,
                                   const std::vector<double>& k, const Tensor& gamma,
                                   const std::vector<double>& dgamma,
                                   const std::vector<double>& dbeta);

}  // namespace nl
