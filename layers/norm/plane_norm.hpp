// The shared normalize-and-affine op (forward + hand-derived backward) of BatchNorm, GroupNorm,
// LayerNorm, InstanceNorm and their batch-group relatives. A layer only chooses the StatLayout
// and where the statistics come from.
//
// Forward, for plane (n, c) in statistic group k with mean mu_k and biased variance var_k:
//   s_k = 1 / sqrt(var_k + eps),  xhat = (x - mu_k) s_k,  y = gamma_c xhat + beta_c
// folded into one multiply-add per element: y = (s_k gamma_c) x + (beta_c - mu_k s_k gamma_c).
//
// Backward with batch statistics (M = elements per group; sums over the group's elements):
//   dbeta_c  = sum_{n,l} dy                 dgamma_c = sum_{n,l} dy xhat
//   dx = s_k ( gamma_c dy - mean_k(gamma dy) - xhat mean_k(gamma dy xhat) )
// The two group means come from the per-plane sums  sum dy  and  sum dy (x - mu_k), so
//   dx = a dy + b x + k,  a = s gamma_c,  b = -s^3 C_k,  k = -s A_k + s^3 C_k mu_k
// with A_k = mean_k(gamma dy) and C_k = (1/M) sum gamma_c dy (x - mu_k). See docs/norms/bn.md.
// With fixed statistics (eval) mu and var are constants: dx = s_k gamma_c dy.
//
// Variants switch parts of the formula off (NormMath). In general, with c = subtract_mean,
// c' = center_variance, v = mean((x - c' mu)^2) and y = gamma s (x - c mu) + beta:
//   dx = a dy + b x + k,  a = s gamma,  b = -s^3 E,  k = -c s A + c' mu s^3 E,
//   E = (1/M) sum gamma dy (x - c mu)
// (BatchNorm: c = c' = 1; Variance Normalization: c = 0, c' = 1; uncentred RMS: c = c' = 0).
// divide_std = false (mean-only BatchNorm) fixes s = 1 and drops the E terms.
#pragma once
#include <memory>

#include "layers/norm/plane_stats.hpp"

namespace nl {

struct PlaneNormOutput {
  Tensor y;
  Moments batch;     // the statistics used (empty when `fixed` was given)
  double count = 0;  // elements each batch statistic pooled (over every rank with a StatSync)
};

// Batch statistics pooled over several processes (SyncBatchNorm, layers/norm/sync_batch_norm):
// the forward's moments and the backward's two per-statistic sums are combined over the ranks
// before they are used, and M above counts every rank's elements. The backward formula is
// unchanged: its group means become means over the union of the ranks' batches.
struct StatSync {
  virtual ~StatSync() = default;
  // This rank's moments (biased variance) of `count` elements per statistic -> the moments of
  // all ranks' elements; *total receives their number. The same result on every rank.
  virtual Moments combine(const Moments& local, double count, double* total) const = 0;
  // Sums over the ranks, in place: A_k = sum gamma dy and C_k = sum gamma dy (x - mu_k).
  virtual void sum(std::vector<double>& big_a, std::vector<double>& big_c) const = 0;
};

struct NormMath {
  bool subtract_mean = true;    // c
  bool center_variance = true;  // c': variance about the mean (true) or about 0 (false)
  bool divide_std = true;       // false: y = gamma (x - mu) + beta
};

// The divisor's reciprocal the op applies for a statistic of variance `var` (already about 0
// when center_variance is off): 1 / sqrt(var + eps), 1 without division (mean-only), and 0
// when var + eps = 0 (PyTorch's invstd). Layers that fold the op elsewhere use it too.
double inverse_std(double var, double eps, const NormMath& math);

// gamma/beta: (C) tensors or undefined (no affine). fixed: statistics to use instead of the
// batch's (per statistic group, var as defined by `math`); they then receive no gradient.
// sync: batch statistics shared with other ranks (needs whole-batch statistics, S = N).
PlaneNormOutput plane_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           const StatLayout& layout, double eps, const Moments* fixed,
                           const char* name, NormMath math = {},
                           std::shared_ptr<const StatSync> sync = nullptr);

}  // namespace nl
