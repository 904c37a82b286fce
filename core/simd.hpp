// Eight-lane double vectors for reduction kernels, from the GCC/Clang vector extension.
//
// Why not plain loops: a sum over 8 independent scalar lanes (`acc[j] += f(i + j)`) is what a
// deterministic reduction wants, but GCC keeps such lanes in 8 scalar registers instead of one
// vector whenever the loop body converts float to double or returns two values. A vector type
// says it directly; the compiler lowers it to the registers of the function's target (one
// AVX-512 register, two AVX2 or four SSE2 ones), so a kernel written once is vectorised in every
// target_clones copy with the same lane arithmetic, hence the same bits, in each.
#pragma once
#include <cstdint>
#include <cstring>

// These helpers are always inlined into kernels compiled for a target; the psABI note about
// passing 64-byte vectors between functions of different targets never applies.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace nl::simd {

using f64x8 = double __attribute__((vector_size(64)));
using f32x8 = float __attribute__((vector_size(32)));

// p[0..7] as doubles (unaligned loads).
[[gnu::always_inline]] inline f64x8 load8(const double* p) {
  f64x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline f64x8 load8(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, f64x8);
}
// (p[0..7] - shift) computed in T, then widened: the rounding of the scalar `double(p[i] - m)`.
[[gnu::always_inline]] inline f64x8 load8_minus(const double* p, double shift) {
  return load8(p) - shift;
}
[[gnu::always_inline]] inline f64x8 load8_minus(const float* p, float shift) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v - shift, f64x8);
}

// Lanes added pairwise in a fixed order.
[[gnu::always_inline]] inline double hsum(f64x8 v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// sum_{i < n} of element i, given vec(i) = elements i..i+7 as a vector and scalar(i) = element
// i. Four accumulators (32 lanes) keep four additions in flight; every step is in a fixed
// order, so the result depends only on n and the data.
template <typename Vec, typename Scalar>
[[gnu::always_inline]] inline double reduce_sum(int64_t n, Vec vec, Scalar scalar) {
  f64x8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 += vec(i);
    a1 += vec(i + 8);
    a2 += vec(i + 16);
    a3 += vec(i + 24);
  }
  for (; i + 8 <= n; i += 8) a0 += vec(i);
  for (int j = 0; i < n; ++i, ++j) a1[j] += scalar(i);
  return hsum((a0 + a1) + (a2 + a3));
}

}  // namespace nl::simd
