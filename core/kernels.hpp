// Raw tensor math: no autograd here. The differentiable versions in autograd/ call these.
// Every kernel accepts any strides, broadcasts with NumPy rules, and returns a new contiguous
// tensor of the inputs' dtype.
#pragma once
#include <vector>

#include "core/tensor.hpp"

namespace nl::kernels {

// add_relu = max(a + b, 0) (a residual join, one pass); relu_backward(g, y) = y > 0 ? g : 0
// (ReLU's backward read off its output, one pass, no mask tensor).
enum class Binary {
  add,
  sub,
  mul,
  div,
  maximum,
  minimum,
  gt,
  ge,
  lt,
  le,
  eq,
  add_relu,
  relu_backward
};
enum class Unary {
  neg,
  exp,
  log,
  sqrt,
  abs,
  relu,
  sigmoid,
  tanh,
  square,
  sign,
  pow,
  leaky_relu,
  silu,
  step /* 1 where x > 0 */
};

Tensor binary(Binary op, const Tensor& a, const Tensor& b);
Tensor binary_scalar(Binary op, const Tensor& a, double s);
Tensor unary(Unary op, const Tensor& a, double param = 0);  // param: exponent / slope

// Reductions over `axes` (empty = all). Sums accumulate pairwise in blocks with double
// accumulators, so float32 sums of millions of elements stay accurate.
Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim);
Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim);
Tensor max(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim);
// Index of the first maximum along one axis, returned as float64 values.
Tensor argmax(const Tensor& a, int64_t axis, bool keepdim);
// Two-pass variance (mean first, then sum of squared deviations), exact for offset data.
Tensor var(const Tensor& a, const std::vector<int64_t>& axes, bool unbiased, bool keepdim);

// Sums `grad` down to `shape` (undoing a broadcast): the backward of expand.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// (m,k)@(k,n), or batched (b,m,k)@(b,k,n) via cblas; transposed views need no copy.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace nl::kernels
