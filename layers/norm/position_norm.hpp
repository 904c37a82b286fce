// The op behind LayerNorm2d, Positional Normalization and RmsNorm2d: statistics over the C
// channels at each position (n, l) of an (N, C, L) map, L = H*W, with a per-channel affine.
// The general form, with c = subtract_mean and c' = center_variance (NormMath):
//   mu = (1/C) sum_c x,  v = (1/C) sum_c (x - c' mu)^2,  s = 1 / sqrt(v + eps)
//   y  = gamma_c s (x - c mu) + beta_c
// Backward (sums over the C channels of one position, M = C):
//   A = sum_c gamma_c dy,  E = (1/M) sum_c gamma_c dy (x - c mu)
//   dx = s gamma_c dy - s^3 E x + (-c s A / M + c' mu s^3 E)
//   dgamma_c = sum_{n,l} dy s (x - c mu),  dbeta_c = sum_{n,l} dy
// the same formula as plane_norm's (plane_norm.hpp) with the statistic's axis turned from the
// plane to the position.
//
// Why its own kernel: the statistic's C values are strided by L in NCHW memory. Reading them in
// place, a block of consecutive positions at a time, keeps every loop contiguous and the
// layout untouched; the composite that transposes to channels-last and calls plane_norm
// (reference/position_norm_reference.hpp, the test suite's oracle) copies the map twice each way
// and treats every single value as a plane of its own.
#pragma once
#include "layers/norm/plane_norm.hpp"

namespace nl {

// x: (N, C, ...) with C = gamma's length (or any C when gamma and beta are undefined); the
// statistics are over dim 1 at every other index. Float or double; differentiable in all three.
Tensor position_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                     const char* name, NormMath math = {});

}  // namespace nl
