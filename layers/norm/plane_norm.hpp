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
#include "layers/norm/plane_stats.hpp"

namespace nl {

struct PlaneNormOutput {
  Tensor y;
  Moments batch;  // the statistics used (empty when `fixed` was given)
};

struct NormMath {
  bool subtract_mean = true;    // c
  bool center_variance = true;  // c': variance about the mean (true) or about 0 (false)
  bool divide_std = true;       // false: y = gamma (x - mu) + beta
};

// gamma/beta: (C) tensors or undefined (no affine). fixed: statistics to use instead of the
// batch's (per statistic group, var as defined by `math`); they then receive no gradient.
PlaneNormOutput plane_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           const StatLayout& layout, double eps, const Moments* fixed,
                           const char* name, NormMath math = {});

}  // namespace nl
