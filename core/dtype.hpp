// Element types. Training runs in float32; gradient checks and reference math in float64.
// Kernels are written once as templates and instantiated through `dispatch`.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace nl {

enum class DType { f32, f64 };

inline std::size_t dtype_size(DType t) {
  return t == DType::f32 ? 4 : 8;
}
inline const char* dtype_name(DType t) {
  return t == DType::f32 ? "float32" : "float64";
}

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}

// Calls fn.template operator()<T>() with T = float or double, so a kernel is written once:
//   dispatch(x.dtype(), [&]<typename T>() { ... x.data<T>() ... });
template <typename Fn>
decltype(auto) dispatch(DType t, Fn&& fn) {
  if (t == DType::f32) return fn.template operator()<float>();
  return fn.template operator()<double>();
}

}  // namespace nl
