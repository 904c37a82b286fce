// C = A B (or C += A B) for the many small products of the Winograd convolutions: 36 per image
// block, each 128 x 16 to 128 x 64 times 64 x 64 at most (docs/performance.md, "A GEMM of our
// own for the Winograd products").
//
// Why not cblas_sgemm: at these sizes a general GEMM spends much of each call packing its
// operands, and these machines force OpenBLAS onto its AVX2 kernels (OPENBLAS_CORETYPE). On a CPU
// with AVX-512 the products run in a register-blocked kernel (small_gemm.cpp) that reads both
// operands where they lie; elsewhere, and for double, they go to cblas.
//
// Contract: A is m x k with A(r, p) = a[r * a_row + p * a_col], so either A or A^T can be passed
// without a copy (one of a_row, a_col must be 1); B is k x n row-major (ldb); C is m x n row-major
// (ldc); n is a multiple of 16. Either way, the same call on the same operands gives the same
// bits, so a schedule that changes only which thread makes a call changes nothing. The kernel
// promises more: each C(r, j) is one sum over p in order (a fused multiply-add chain from zero,
// then added to C when accumulating), so any split of the rows gives the same bits too; cblas
// does not (its single-row calls take another path).
#pragma once
#include <cstdint>

namespace nl {

template <typename T>
void small_gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t a_row, int64_t a_col,
                const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate);

// Whether small_gemm<float> runs its own kernel on this CPU (else cblas).
bool small_gemm_has_kernel();

}  // namespace nl
