// Differentiable tensor math, the way PyTorch spells it. Each op is a forward kernel from core/
// plus a hand-written backward next to it (autograd/ops.cpp).
#pragma once
#include <vector>

#include "core/tensor.hpp"

namespace nl {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);     // grad goes to a where a >= b
Tensor clamp(const Tensor& a, double lo, double hi);  // no grad where clipped
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);

Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor square(const Tensor& a);
Tensor pow(const Tensor& a, double exponent);
Tensor relu(const Tensor& a);
Tensor add_relu(const Tensor& a, const Tensor& b);  // relu(a + b), fused
Tensor leaky_relu(const Tensor& a, double slope = 0.01);
Tensor sigmoid(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor silu(const Tensor& a);

Tensor sum(const Tensor& a, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& axes = {}, bool keepdim = false);
// Gradient flows to every maximal element, split evenly among ties.
Tensor max(const Tensor& a, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor var(const Tensor& a, const std::vector<int64_t>& axes = {}, bool unbiased = true,
           bool keepdim = false);
Tensor argmax(const Tensor& a, int64_t axis, bool keepdim = false);  // not differentiable

Tensor matmul(const Tensor& a, const Tensor& b);  // 2-D or batched 3-D
inline Tensor bmm(const Tensor& a, const Tensor& b) {
  return matmul(a, b);
}

inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
inline Tensor operator-(const Tensor& a) {
  return neg(a);
}
inline Tensor operator+(const Tensor& a, double s) {
  return add(a, s);
}
inline Tensor operator-(const Tensor& a, double s) {
  return add(a, -s);
}
inline Tensor operator*(const Tensor& a, double s) {
  return mul(a, s);
}
inline Tensor operator*(double s, const Tensor& a) {
  return mul(a, s);
}
inline Tensor operator/(const Tensor& a, double s) {
  return mul(a, 1.0 / s);
}

}  // namespace nl
