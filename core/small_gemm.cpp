#include "core/small_gemm.hpp"

#include <algorithm>
#include <type_traits>

#include "core/blas.hpp"
#include "core/error.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#define NL_SMALL_GEMM_KERNEL 1
#endif

namespace nl {

#ifdef NL_SMALL_GEMM_KERNEL
namespace {

#define NL_AVX512 __attribute__((target("avx512f")))

// The MR x (16 NV) block of C at c: MR * NV accumulators stay in registers through the whole
// sum over p; each step loads NV vectors of B's row p and broadcasts one A element per row.
template <int MR, int NV>
[[gnu::always_inline]] NL_AVX512 inline void block(int64_t k, const float* a, int64_t a_row,
                                                   int64_t a_col, const float* b, int64_t ldb,
                                                   float* c, int64_t ldc, bool accumulate) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    __m512 row[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) row[j] = _mm512_loadu_ps(b + p * ldb + 16 * j);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r * a_row + p * a_col]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_fmadd_ps(ar, row[j], acc[r][j]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      float* cr = c + r * ldc + 16 * j;
      _mm512_storeu_ps(cr, accumulate ? _mm512_add_ps(_mm512_loadu_ps(cr), acc[r][j]) : acc[r][j]);
    }
}

// Rows [r0, r0 + R) of the column panel at j0; returns the next row.
template <int R, int NV>
[[gnu::always_inline]] NL_AVX512 inline int64_t rows(int64_t r0, int64_t j0, int64_t k,
                                                     const float* a, int64_t a_row, int64_t a_col,
                                                     const float* b, int64_t ldb, float* c,
                                                     int64_t ldc, bool accumulate) {
  block<R, NV>(k, a + r0 * a_row, a_row, a_col, b + j0, ldb, c + r0 * ldc + j0, ldc, accumulate);
  return r0 + R;
}

// Column panels of 16 NV, row blocks of MR; the last rows in blocks of 4, 2 and 1.
template <int MR, int NV>
NL_AVX512 void panels(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_row, int64_t a_col,
                      const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  for (int64_t j0 = 0; j0 < n; j0 += 16 * NV) {
    int64_t r = 0;
    while (r + MR <= m) r = rows<MR, NV>(r, j0, k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
    if (r + 4 <= m) r = rows<4, NV>(r, j0, k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
    if (r + 2 <= m) r = rows<2, NV>(r, j0, k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
    if (r < m) rows<1, NV>(r, j0, k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
  }
}

// Widest panel n allows: 6 x 64 and 8 x 32 keep 24 and 16 accumulators of the 32 registers.
void kernel(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_row, int64_t a_col,
            const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  if (n % 64 == 0)
    panels<6, 4>(m, n, k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
  else if (n % 32 == 0)
    panels<8, 2>(m, n, k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
  else
    panels<8, 1>(m, n, k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
}

// __builtin_cpu_supports also checks that the OS saves the AVX-512 registers; the explicit init
// makes the answer right even if this initialiser ran before libgcc's own constructor.
const bool kHasKernel = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
}();

}  // namespace
#endif

bool small_gemm_has_kernel() {
#ifdef NL_SMALL_GEMM_KERNEL
  return kHasKernel;
#else
  return false;
#endif
}

template <typename T>
void small_gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t a_row, int64_t a_col,
                const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  check(n % 16 == 0 && (a_row == 1 || a_col == 1), "small_gemm", "n = ", n,
        " (a multiple of 16 expected), A strides ", a_row, " and ", a_col, " (one must be 1)");
#ifdef NL_SMALL_GEMM_KERNEL
  if constexpr (std::is_same_v<T, float>) {
    if (kHasKernel) return kernel(m, n, k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
  }
#endif
  const bool trans_a = a_col != 1;
  const int64_t lda = trans_a ? a_col : std::max(a_row, k);  // a_row < k only when m == 1
  gemm<T>(trans_a, false, m, n, k, T(1), a, lda, b, ldb, accumulate ? T(1) : T(0), c, ldc);
}

template void small_gemm<float>(int64_t, int64_t, int64_t, const float*, int64_t, int64_t,
                                const float*, int64_t, float*, int64_t, bool);
template void small_gemm<double>(int64_t, int64_t, int64_t, const double*, int64_t, int64_t,
                                 const double*, int64_t, double*, int64_t, bool);

}  // namespace nl
