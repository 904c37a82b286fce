// The readable reference of a weight-side normalizer: Weight Normalization (Salimans & Kingma
// 2016) as plain loops over float64 arrays, forward and hand-derived backward. The test suite
// uses it as the oracle of layers/norm/weight/weight_normalizer.cpp, which computes the same
// function through the shared activation-norm core.
//
// The weight w (K, C, kh, kw) is K rows v_k of F = C kh kw values, each re-parametrised as
//   w_k = g_k v_k / ||v_k||      (direction from v, length from the trained gain g_k)
// Backward, with u_k = v_k / ||v_k|| and dw_k = dL/dw_k:
//   dL/dg_k = <dw_k, u_k>
//   dL/dv_k = g_k / ||v_k|| (dw_k - u_k <dw_k, u_k>)     the part of dw_k orthogonal to v_k
// so the gradient never changes ||v_k|| to first order: the length lives in g alone.
#pragma once
#include <cstdint>
#include <vector>

namespace nl::reference {

struct WeightNormShape {
  int64_t rows, fan_in;  // K output channels, F = C kh kw weights each
};

std::vector<double> weight_norm_forward(const WeightNormShape& s, const std::vector<double>& v,
                                        const std::vector<double>& g);

struct WeightNormBackward {
  std::vector<double> dv, dg;  // (K, F), (K)
};
WeightNormBackward weight_norm_backward(const WeightNormShape& s, const std::vector<double>& v,
                                        const std::vector<double>& g,
                                        const std::vector<double>& dw);

}  // namespace nl::reference
