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
#include <utility>

// These helpers are always inlined into kernels compiled for a target; the psABI note about
// passing 64-byte vectors between functions of different targets never applies.
#pragma GCC diagnostic ignored "-Wpsabi"

// Compiles a kernel three times, for AVX-512, for AVX2 and for baseline x86-64, and picks the
// copy when the program loads: one portable binary that uses the wide vectors where the CPU has
// them. (Not under AddressSanitizer, whose instrumentation does not support the resolver.)
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define NL_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NL_VECTOR_CLONES
#endif

namespace nl::simd {

using f64x8 = double __attribute__((vector_size(64)));
using f32x8 = float __attribute__((vector_size(32)));
using f32x16 = float __attribute__((vector_size(64)));

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
[[gnu::always_inline]] inline f32x16 load16(const float* p) {
  f32x16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// The low and high 8 lanes of a float vector, widened to double.
// Lane permutations of two 16-float vectors with indices computed at compile time
// (__builtin_shufflevector: GCC >= 12 and Clang). Index i < 16 picks a[i], else b[i - 16].
template <size_t... J>
[[gnu::always_inline]] inline f32x16 pick_even(f32x16 a, f32x16 b, std::index_sequence<J...>) {
  return __builtin_shufflevector(a, b, (2 * J)...);
}
template <size_t... J>
[[gnu::always_inline]] inline f32x16 pick_odd(f32x16 a, f32x16 b, std::index_sequence<J...>) {
  return __builtin_shufflevector(a, b, (2 * J + 1)...);
}
// The two halves of the block swap of transpose16 at bit S (see there).
template <int S, size_t... J>
[[gnu::always_inline]] inline f32x16 swap_low(f32x16 a, f32x16 b, std::index_sequence<J...>) {
  return __builtin_shufflevector(a, b, ((J & S) ? 16 + J - S : J)...);
}
template <int S, size_t... J>
[[gnu::always_inline]] inline f32x16 swap_high(f32x16 a, f32x16 b, std::index_sequence<J...>) {
  return __builtin_shufflevector(a, b, ((J & S) ? 16 + J : J + S)...);
}

// even[k] = p[2k], odd[k] = p[2k + 1] for k < n: splits interleaved pairs (one AVX-512 permute
// per 16 pairs where the target has it).
[[gnu::always_inline]] inline void deinterleave(const float* p, int64_t n, float* even,
                                                float* odd) {
  constexpr auto lanes = std::make_index_sequence<16>{};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const f32x16 a = load16(p + 2 * k), b = load16(p + 2 * k + 16);
    const f32x16 e = pick_even(a, b, lanes), o = pick_odd(a, b, lanes);
    std::memcpy(even + k, &e, sizeof e);
    std::memcpy(odd + k, &o, sizeof o);
  }
  for (; k < n; ++k) even[k] = p[2 * k], odd[k] = p[2 * k + 1];
}
[[gnu::always_inline]] inline void deinterleave(const double* p, int64_t n, double* even,
                                                double* odd) {
  for (int64_t k = 0; k < n; ++k) even[k] = p[2 * k], odd[k] = p[2 * k + 1];
}

// Transposes a 16 x 16 float matrix held as 16 row vectors, in registers: for each bit s of the
// index (8, 4, 2, 1), rows r and r + s swap their off-diagonal s x s blocks; transposing swaps
// the row and column bits, one bit at a time. 64 two-register shuffles.
template <int S>
[[gnu::always_inline]] inline void transpose16_step(f32x16 (&v)[16]) {
  constexpr auto lanes = std::make_index_sequence<16>{};
  for (int r = 0; r < 16; ++r)
    if (!(r & S)) {
      const f32x16 a = v[r], b = v[r + S];
      v[r] = swap_low<S>(a, b, lanes);
      v[r + S] = swap_high<S>(a, b, lanes);
    }
}
[[gnu::always_inline]] inline void transpose16(f32x16 (&v)[16]) {
  transpose16_step<8>(v);
  transpose16_step<4>(v);
  transpose16_step<2>(v);
  transpose16_step<1>(v);
}

[[gnu::always_inline]] inline f64x8 widen_low(f32x16 v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), f64x8);
}
[[gnu::always_inline]] inline f64x8 widen_high(f32x16 v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15),
                                 f64x8);
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

// The float counterpart: sum_{i < n} of element i, given vec(i) = elements i..i+15 as an
// f32x16 and scalar(i) = element i (a double). 16 float lanes, flushed into double lanes every
// 256 elements, so no float partial sum has more than 16 terms (relative rounding error below
// 1e-6) while the loop runs at float width. Fixed order, as above.
template <typename Vec, typename Scalar>
[[gnu::always_inline]] inline double reduce_sum_f32(int64_t n, Vec vec, Scalar scalar) {
  f64x8 lo = {}, hi = {};
  int64_t i = 0;
  while (i + 16 <= n) {
    const int64_t block_end = i + 256 < n ? i + 256 : n;
    f32x16 acc = {};
    for (; i + 16 <= block_end; i += 16) acc += vec(i);
    lo += widen_low(acc);
    hi += widen_high(acc);
  }
  for (int j = 0; i < n; ++i, ++j) lo[j % 8] += scalar(i);
  return hsum(lo + hi);
}

}  // namespace nl::simd
