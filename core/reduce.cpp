// Reductions over any set of axes. The input is permuted so kept axes come first and reduced axes
// last, made contiguous, and each output element reduces one contiguous row.
//
// Sums use double accumulators over fixed blocks of kBlock elements combined in order, so the
// result is accurate and identical whatever the thread count. Variance is two-pass:
// var = sum((x - mean)^2) / (n - unbiased), which stays exact for x = 100 + 0.01*N(0,1) where
// the one-pass E[x^2] - E[x]^2 loses every digit.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/kernels.hpp"
#include "core/parallel.hpp"

namespace nl::kernels {
namespace {

constexpr int64_t kBlock = 4096;

struct Rows {
  Tensor data;  // contiguous, rows x len
  int64_t rows = 1, len = 1;
  Shape out_shape;
};

Rows to_rows(const Tensor& a, const std::vector<int64_t>& axes_in, bool keepdim, const char* op) {
  const auto axes = normalize_axes(axes_in, a.dim(), op);
  std::vector<int64_t> perm;
  Rows r;
  for (int64_t d = 0; d < a.dim(); ++d) {
    const bool reduced = std::binary_search(axes.begin(), axes.end(), d);
    if (!reduced) {
      perm.push_back(d);
      r.rows *= a.shape()[d];
      r.out_shape.push_back(a.shape()[d]);
    } else if (keepdim) {
      r.out_shape.push_back(1);
    }
  }
  for (int64_t d : axes) {
    perm.push_back(d);
    r.len *= a.shape()[d];
  }
  Shape pshape, pstrides;
  for (int64_t d : perm) pshape.push_back(a.shape()[d]), pstrides.push_back(a.strides()[d]);
  Tensor permuted = make_view(a, pshape, pstrides, a.offset());
  r.data = permuted.is_contiguous() ? permuted : permuted.clone();
  return r;
}

// Sum of f(x) over one row, in fixed blocks of double accumulators.
template <typename T, typename F>
double row_sum(const T* p, int64_t len, F f) {
  double total = 0;
  for (int64_t b = 0; b < len; b += kBlock) {
    const int64_t e = std::min(len, b + kBlock);
    double s = 0;
    for (int64_t i = b; i < e; ++i) s += f(p[i]);
    total += s;
  }
  return total;
}

// Runs per-row reductions in parallel; for few long rows the rows' blocks are spread instead.
template <typename T, typename RowFn>
Tensor reduce_rows(const Rows& r, DType dtype, RowFn row_fn) {
  Tensor out = Tensor::empty(r.out_shape, dtype);
  const T* p = r.data.data<T>();
  T* o = out.data<T>();
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(r.len, 1));
  parallel_for(r.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = static_cast<T>(row_fn(p + i * r.len, r.len));
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  Rows r = to_rows(a, axes, keepdim, "sum");
  return dispatch(a.dtype(), [&]<typename T>() {
    return reduce_rows<T>(r, a.dtype(), [](const T* p, int64_t n) {
      return row_sum(p, n, [](T x) { return double(x); });
    });
  });
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  Rows r = to_rows(a, axes, keepdim, "mean");
  check(r.len > 0, "mean", "reducing over an empty set of elements");
  return dispatch(a.dtype(), [&]<typename T>() {
    return reduce_rows<T>(r, a.dtype(), [](const T* p, int64_t n) {
      return row_sum(p, n, [](T x) { return double(x); }) / double(n);
    });
  });
}

Tensor var(const Tensor& a, const std::vector<int64_t>& axes, bool unbiased, bool keepdim) {
  Rows r = to_rows(a, axes, keepdim, "var");
  const int64_t dof = r.len - (unbiased ? 1 : 0);
  check(dof > 0, "var", "needs more than ", unbiased ? 1 : 0, " elements per row, got ", r.len);
  return dispatch(a.dtype(), [&]<typename T>() {
    return reduce_rows<T>(r, a.dtype(), [dof](const T* p, int64_t n) {
      const double m = row_sum(p, n, [](T x) { return double(x); }) / double(n);
      return row_sum(p, n, [m](T x) { return (double(x) - m) * (double(x) - m); }) / double(dof);
    });
  });
}

Tensor max(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  Rows r = to_rows(a, axes, keepdim, "max");
  check(r.len > 0, "max", "reducing over an empty set of elements");
  return dispatch(a.dtype(), [&]<typename T>() {
    return reduce_rows<T>(r, a.dtype(), [](const T* p, int64_t n) {
      T m = p[0];
      for (int64_t i = 1; i < n; ++i) m = std::max(m, p[i]);  // NaN-free inputs assumed
      return m;
    });
  });
}

Tensor argmax(const Tensor& a, int64_t axis, bool keepdim) {
  Rows r = to_rows(a, {axis}, keepdim, "argmax");
  check(r.len > 0, "argmax", "reducing over an empty axis");
  Tensor out = Tensor::empty(r.out_shape, DType::f64);
  double* o = out.data<double>();
  dispatch(a.dtype(), [&]<typename T>() {
    const T* p = r.data.data<T>();
    for (int64_t i = 0; i < r.rows; ++i) {
      const T* row = p + i * r.len;
      o[i] = static_cast<double>(std::max_element(row, row + r.len) - row);
    }
  });
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  std::vector<int64_t> axes;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  check(lead >= 0, "sum_to", "cannot reduce ", shape_str(grad.shape()), " to ", shape_str(shape));
  for (int64_t d = 0; d < grad.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && grad.shape()[d] != 1)) axes.push_back(d);
  if (axes.empty()) return grad.detach().reshape(shape);
  return sum(grad, axes, true).reshape(shape);
}

}  // namespace nl::kernels
