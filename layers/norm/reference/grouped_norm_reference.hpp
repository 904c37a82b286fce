// The readable reference of the normalization family: BatchNorm, GroupNorm, LayerNorm and
// InstanceNorm as plain loops over float64 arrays, forward and hand-derived backward, in the
// style of llm.c's layernorm_forward/backward. Slow on purpose; the test suite uses it as the
// oracle of the fast kernels (plane_stats.cpp, plane_norm.cpp), and docs/norms/bn.md shows it
// before explaining how the fast kernel differs.
//
// All four normalize x (N, C, H, W) over a set S of elements that share one statistic:
//   BatchNorm      S = {(n, c, h, w) : all n, h, w}         for each channel c
//   GroupNorm(G)   S = {(n, c, h, w) : c in group g, all h, w}  for each sample n and group g
//   LayerNorm      GroupNorm(1): each sample over all of (C, H, W)
//   InstanceNorm   GroupNorm(C): each sample and channel over (H, W)
// and apply a per-channel affine:
//   mean_S = 1/M sum_S x,  var_S = 1/M sum_S (x - mean_S)^2  (biased, M = |S|)
//   xhat = (x - mean_S) / sqrt(var_S + eps),  y = gamma[c] xhat + beta[c]
#pragma once
#include <cstdint>
#include <vector>

namespace nl::reference {

struct GroupedNormShape {
  int64_t n, c, h, w;
  bool batch_statistics;  // true: BatchNorm (per channel over N, H, W); false: per sample
  int64_t groups;         // per-sample statistics: G groups of C/G channels (ignored for BN)
};

struct GroupedNormForward {
  std::vector<double> y;           // (N, C, H, W)
  std::vector<double> mean, rstd;  // one per statistic: C for BN, N*G otherwise
};

struct GroupedNormBackward {
  std::vector<double> dx;             // (N, C, H, W)
  std::vector<double> dgamma, dbeta;  // (C)
};

GroupedNormForward grouped_norm_forward(const GroupedNormShape& s, const std::vector<double>& x,
                                        const std::vector<double>& gamma,
                                        const std::vector<double>& beta, double eps);

GroupedNormBackward grouped_norm_backward(const GroupedNormShape& s, const std::vector<double>& x,
                                          const std::vector<double>& gamma,
                                          const GroupedNormForward& fwd,
                                          const std::vector<double>& dy);

}  // namespace nl::reference
