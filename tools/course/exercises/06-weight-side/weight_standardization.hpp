// Exercise 6.1: Weight Standardization (Qiao et al. 2019), a normalizer on the weight side.
//
// A convolution weight v (K, C, kh, kw) is K rows of F = C kh kw values. Each row is
// standardized on its own before the convolution uses it:
//   mean_k = 1/F sum_f v_kf,  var_k = 1/F sum_f (v_kf - mean_k)^2,  rstd_k = 1/sqrt(var_k + eps)
//   w_kf = (v_kf - mean_k) rstd_k
// (the convention of timm's StdConv2d and of normlab's `ws`: biased variance, eps inside.)
// The trained parameter is v; the gradient dL/dw the convolution's backward produces must be
// carried back to dL/dv.
//
// Write ws_forward and ws_backward in weight_standardization.cpp. No affine here: the next
// normalizer (or the network's gain) scales the output.
//
// Graded (ctest -R weight_standardization): the forward against normlab's `ws` (a
// WeightNormalizer, layers/norm/weight), each row of your w has mean 0 and variance
// var / (var + eps); the backward against normlab's; your backward against central differences
// of your forward (float64 gradcheck).
#pragma once
#include <cstdint>
#include <vector>

namespace course {

struct WeightShape {
  int64_t rows, fan_in;  // K, F = C kh kw
};

std::vector<double> ws_forward(const WeightShape& s, const std::vector<double>& v,
                               double eps = 1e-5);
std::vector<double> ws_backward(const WeightShape& s, const std::vector<double>& v,
                                const std::vector<double>& dw, double eps = 1e-5);

}  // namespace course
