// small_gemm (core/small_gemm.hpp), the Winograd products' GEMM: against a float64 sum for both
// layouts of A, accumulation, every panel width and row counts that leave each tail block.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/small_gemm.hpp"

using namespace nl;

namespace {

// C = A B (+ C0), A given as A or as A^T, checked against the float64 sum of the same products.
// float runs the AVX-512 kernel where the CPU has one; double always runs the cblas fallback.
template <typename T>
void check_small_gemm(int64_t m, int64_t n, int64_t k, bool a_transposed, bool accumulate) {
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  CAPTURE(a_transposed);
  CAPTURE(accumulate);
  std::vector<T> a(m * k), b(k * n), c(m * n);
  for (int64_t i = 0; i < m * k; ++i) a[i] = T(std::sin(0.7 * double(i) + 0.3));
  for (int64_t i = 0; i < k * n; ++i) b[i] = T(std::cos(1.3 * double(i)));
  for (int64_t i = 0; i < m * n; ++i) c[i] = T(0.25 * double(i % 7) - 0.5);
  const std::vector<T> c0 = c;
  // A(r, p) at a[r * a_row + p * a_col]: row-major m x k, or the k x m array of A^T.
  const int64_t a_row = a_transposed ? 1 : k, a_col = a_transposed ? m : 1;
  small_gemm<T>(m, n, k, a.data(), a_row, a_col, b.data(), n, c.data(), n, accumulate);
  double worst = 0;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double want = accumulate ? double(c0[r * n + j]) : 0.0, scale = 1;
      for (int64_t p = 0; p < k; ++p) {
        const double t = double(a[r * a_row + p * a_col]) * double(b[p * n + j]);
        want += t, scale += std::abs(t);
      }
      worst = std::max(worst, std::abs(double(c[r * n + j]) - want) / scale);
    }
  CHECK(worst < 1e-6);
}

}  // namespace

TEST_SUITE("conv") {
  TEST_CASE("small_gemm computes A B and C + A B for A or A^T, every panel and tail") {
    // n = 16, 32, 64 and 48 pick the three panel widths (48: 16-wide panels); m leaves tails
    // of 4, 2 and 1 rows after blocks of 6 or 8.
    for (int64_t n : {16, 32, 48, 64})
      for (int64_t m : {1, 2, 3, 7, 13, 15, 128})
        for (int64_t k : {1, 16, 37})
          for (bool transposed : {false, true})
            for (bool accumulate : {false, true}) {
              check_small_gemm<float>(m, n, k, transposed, accumulate);
              check_small_gemm<double>(m, n, k, transposed, accumulate);
            }
  }

  TEST_CASE("small_gemm's kernel gives the same bits whichever rows are computed together") {
    // Row r of C alone (m = 1) equals row r of the whole product: one sum per entry, in order.
    // A promise of the AVX-512 kernel only (small_gemm.hpp); the cblas fallback runs m = 1 as
    // a matrix-vector product with another order of summation.
    if (!small_gemm_has_kernel()) {
      WARN_MESSAGE(false,
                   "this CPU has no AVX-512: small_gemm runs cblas, whose row splits are "
                   "not promised to agree; the kernel's identity is not checked here");
      return;
    }
    const int64_t m = 29, n = 64, k = 40;
    std::vector<float> a(m * k), b(k * n), whole(m * n), row(n);
    for (int64_t i = 0; i < m * k; ++i) a[i] = float(std::sin(0.37 * double(i)));
    for (int64_t i = 0; i < k * n; ++i) b[i] = float(std::cos(0.11 * double(i)));
    small_gemm<float>(m, n, k, a.data(), k, 1, b.data(), n, whole.data(), n, false);
    for (int64_t r = 0; r < m; ++r) {
      small_gemm<float>(1, n, k, a.data() + r * k, k, 1, b.data(), n, row.data(), n, false);
      for (int64_t j = 0; j < n; ++j) REQUIRE(row[j] == whole[r * n + j]);
    }
  }

  TEST_CASE("small_gemm names a width that is not a multiple of 16") {
    std::vector<float> a(4), b(8), c(8);
    CHECK_THROWS_WITH(small_gemm<float>(1, 8, 1, a.data(), 1, 1, b.data(), 8, c.data(), 8, false),
                      doctest::Contains("small_gemm: n = 8"));
  }
}
