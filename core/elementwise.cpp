// Elementwise kernels: one templated loop per arity, the operation chosen outside the loop.
#include <cmath>
#include <iterator>

#include "core/kernels.hpp"
#include "core/strided.hpp"

namespace nl::kernels {
namespace {

const char* binary_name(Binary op) {
  static constexpr const char* names[] = {"add",     "sub",      "mul",          "div", "maximum",
                                          "minimum", "gt",       "ge",           "lt",  "le",
                                          "eq",      "add_relu", "relu_backward"};
  static_assert(std::size(names) == static_cast<size_t>(Binary::relu_backward) + 1,
                "one name per Binary op, in enum order");
  return names[static_cast<int>(op)];
}

// Strides that broadcast `t` to `out` (stretched dims get stride 0).
Shape broadcast_strides(const Tensor& t, const Shape& out) {
  Shape st(out.size(), 0);
  const size_t lead = out.size() - t.shape().size();
  for (size_t d = 0; d < t.shape().size(); ++d)
    st[lead + d] = t.shape()[d] == 1 ? 0 : t.strides()[d];
  return st;
}

template <typename T, typename F>
void run_binary(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const int64_t n = out.numel();
  if (a.is_contiguous() && b.is_contiguous() && a.shape() == b.shape()) {
    parallel_for(n, kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i]);
    });
    return;
  }
  strided_rows<3>(
      out.shape(),
      {out.strides(), broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape())},
      [&](auto off, int64_t cnt, auto st) {
        for (int64_t i = 0; i < cnt; ++i)
          po[off[0] + i] = f(pa[off[1] + i * st[1]], pb[off[2] + i * st[2]]);
      });
}

template <typename T, typename F>
void run_unary(const Tensor& a, Tensor& out, F f) {
  const T* pa = a.data<T>();
  T* po = out.data<T>();
  if (a.is_contiguous()) {
    parallel_for(a.numel(), kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i]);
    });
    return;
  }
  strided_rows<2>(a.shape(), {out.strides(), a.strides()}, [&](auto off, int64_t cnt, auto st) {
    for (int64_t i = 0; i < cnt; ++i) po[off[0] + i] = f(pa[off[1] + i * st[1]]);
  });
}

template <typename T>
void binary_typed(Binary op, const Tensor& a, const Tensor& b, Tensor& out) {
  switch (op) {
    case Binary::add:
      return run_binary<T>(a, b, out, [](T x, T y) { return x + y; });
    case Binary::sub:
      return run_binary<T>(a, b, out, [](T x, T y) { return x - y; });
    case Binary::mul:
      return run_binary<T>(a, b, out, [](T x, T y) { return x * y; });
    case Binary::div:
      return run_binary<T>(a, b, out, [](T x, T y) { return x / y; });
    case Binary::maximum:
      return run_binary<T>(a, b, out, [](T x, T y) { return x > y ? x : y; });
    case Binary::minimum:
      return run_binary<T>(a, b, out, [](T x, T y) { return x < y ? x : y; });
    case Binary::gt:
      return run_binary<T>(a, b, out, [](T x, T y) { return T(x > y); });
    case Binary::ge:
      return run_binary<T>(a, b, out, [](T x, T y) { return T(x >= y); });
    case Binary::lt:
      return run_binary<T>(a, b, out, [](T x, T y) { return T(x < y); });
    case Binary::le:
      return run_binary<T>(a, b, out, [](T x, T y) { return T(x <= y); });
    case Binary::eq:
      return run_binary<T>(a, b, out, [](T x, T y) { return T(x == y); });
    case Binary::add_relu:
      return run_binary<T>(a, b, out, [](T x, T y) { return x + y > T(0) ? x + y : T(0); });
    case Binary::relu_backward:
      return run_binary<T>(a, b, out, [](T g, T y) { return y > T(0) ? g : T(0); });
  }
}

template <typename T>
void unary_typed(Unary op, const Tensor& a, Tensor& out, T p) {
  switch (op) {
    case Unary::neg:
      return run_unary<T>(a, out, [](T x) { return -x; });
    case Unary::exp:
      return run_unary<T>(a, out, [](T x) { return std::exp(x); });
    case Unary::log:
      return run_unary<T>(a, out, [](T x) { return std::log(x); });
    case Unary::sqrt:
      return run_unary<T>(a, out, [](T x) { return std::sqrt(x); });
    case Unary::abs:
      return run_unary<T>(a, out, [](T x) { return std::abs(x); });
    case Unary::relu:
      return run_unary<T>(a, out, [](T x) { return x > 0 ? x : T(0); });
    case Unary::sigmoid:
      return run_unary<T>(a, out, [](T x) { return T(1) / (T(1) + std::exp(-x)); });
    case Unary::tanh:
      return run_unary<T>(a, out, [](T x) { return std::tanh(x); });
    case Unary::square:
      return run_unary<T>(a, out, [](T x) { return x * x; });
    case Unary::sign:
      return run_unary<T>(a, out, [](T x) { return T((x > 0) - (x < 0)); });
    case Unary::pow:
      return run_unary<T>(a, out, [p](T x) { return std::pow(x, p); });
    case Unary::leaky_relu:
      return run_unary<T>(a, out, [p](T x) { return x > 0 ? x : p * x; });
    case Unary::silu:
      return run_unary<T>(a, out, [](T x) { return x / (T(1) + std::exp(-x)); });
    case Unary::step:
      return run_unary<T>(a, out, [](T x) { return T(x > 0); });
  }
}

}  // namespace

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  check(a.dtype() == b.dtype(), binary_name(op), "dtype mismatch: ", a.str(), " vs ", b.str());
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), binary_name(op)), a.dtype());
  dispatch(a.dtype(), [&]<typename T>() { binary_typed<T>(op, a, b, out); });
  return out;
}

Tensor binary_scalar(Binary op, const Tensor& a, double s) {
  return binary(op, a, Tensor::scalar(s, a.dtype()));
}

Tensor unary(Unary op, const Tensor& a, double param) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  dispatch(a.dtype(), [&]<typename T>() { unary_typed<T>(op, a, out, static_cast<T>(param)); });
  return out;
}

}  // namespace nl::kernels
