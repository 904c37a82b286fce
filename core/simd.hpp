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
// even[k] = p[2k], odd[k] = p[2k + 1] for k < n: splits interleaved pairs (one AVX-512 permute
// per 16 pairs where the target has it).
[[gnu::always_inline]] inline void deinterleave(const float* p, int64_t n, float* even,
                                                float* odd) {
  using i32x16 = int32_t __attribute__((vector_size(64)));
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const f32x16 a = load16(p + 2 * k), b = load16(p + 2 * k + 16);
    const f32x16 e =
        __builtin_shuffle(a, b, i32x16{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30});
    const f32x16 o =
        __builtin_shuffle(a, b, i32x16{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31});
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
[[gnu::always_inline]] inline void transpose16(f32x16 (&v)[16]) {
  using i32x16 = int32_t __attribute__((vector_size(64)));
  auto step = [&](int s, i32x16 lo, i32x16 hi) {
    for (int r = 0; r < 16; ++r)
      if (!(r & s)) {
        const f32x16 a = v[r], b = v[r + s];
        v[r] = __builtin_shuffle(a, b, lo);
        v[r + s] = __builtin_shuffle(a, b, hi);
      }
  };
  // lo[j] = j & s ? 16 + j - s : j;   hi[j] = j & s ? 16 + j : j + s
  step(8, i32x16{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
       i32x16{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31});
  step(4, i32x16{0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
       i32x16{4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31});
  step(2, i32x16{0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
       i32x16{2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31});
  step(1, i32x16{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
       i32x16{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31});
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
