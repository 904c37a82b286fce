#include "layers/conv/im2col_gemm.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/blas.hpp"
#include "core/parallel.hpp"
#include "core/scratch.hpp"
#include "core/small_gemm.hpp"

namespace nl {
namespace {

// With fewer image blocks than this (small batches), each GEMM is computed as tiles of kRowTile
// output rows, so that there is work for every core inside a block. Like the block size, the
// tiling depends only on the shape, so results stay identical for any thread count.
constexpr int64_t kMinBlocksForBatchParallelism = 16;
constexpr int64_t kRowTile = 32;
// Blocks also run in parallel, whole, when each thread gets at least this many: one block per
// task beats a synchronised split of every GEMM and copy of each block (a 32 -> 64 stride-2
// convolution at batch 32 ran slower on two threads than on one that way). Each block is
// computed by the same calls either way, so this choice does not change a bit.
constexpr int64_t kMinBlocksPerThread = 2;

// How an op runs its blocks: `tiled` is the shape's rule for the GEMMs' row tiles (bits),
// `batch_parallel` whether the blocks run in parallel (else one after another, with the work
// inside each block split: the row tiles and the per-image copies).
struct Im2colSchedule {
  int64_t blocks;
  bool tiled, batch_parallel;
  explicit Im2colSchedule(const ConvPlan& s)
      : blocks((s.n + s.block - 1) / s.block),
        tiled(blocks < kMinBlocksForBatchParallelism),
        batch_parallel(!tiled || blocks >= kMinBlocksPerThread * num_threads()) {}
  bool inner() const { return !batch_parallel; }
};

// C = op(A) op(B) (+ C when beta is 1): small_gemm where B is not transposed and the width a
// multiple of 16 (the forward and input-gradient products of every CIFAR ResNet convolution),
// cblas otherwise (the weight gradient's B = col^T, odd map sizes).
template <typename T>
void product(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
             const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (!trans_b && n % 16 == 0 && (beta == T(0) || beta == T(1))) {
    small_gemm<T>(m, n, k, a, trans_a ? 1 : lda, trans_a ? lda : 1, b, ldb, c, ldc, beta == T(1));
    return;
  }
  gemm<T>(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
}

// C = op(A) op(B) (+ beta C) with op(A)'s rows in fixed tiles when `tiled`, the tiles run in
// parallel when `parallel`.
template <typename T>
void gemm_rows(bool tiled, bool parallel, bool trans_a, bool trans_b, int64_t m, int64_t n,
               int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
               int64_t ldc) {
  if (!tiled || m < 2 * kRowTile) {
    product<T>(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int64_t tiles = (m + kRowTile - 1) / kRowTile;
  for_range(parallel, tiles, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * kRowTile, rows = std::min(kRowTile, m - r0);
      product<T>(trans_a, trans_b, rows, n, k, trans_a ? a + r0 : a + r0 * lda, lda, b, ldb, beta,
                 c + r0 * ldc, ldc);
    }
  });
}

// Pointers into one image block [n0, n0 + nb) for group g.
template <typename T>
struct BlockView {
  const ConvPlan& s;
  int64_t rows() const { return s.g.col_rows(); }
  int64_t cols() const { return s.g.col_cols(); }
  int64_t cout_g() const { return s.c_out / s.groups; }
  int64_t image_offset(int64_t n, int64_t g) const {
    return n * s.c_in * s.h * s.w + g * s.g.channels * s.h * s.w;
  }
  int64_t out_offset(int64_t n, int64_t g) const { return (n * s.c_out + g * cout_g()) * cols(); }
};

// Copies the (cout_g x cols) output planes of nb images to/from one (cout_g x nb*cols) matrix.
// The two are one copy in opposite directions, written twice on purpose: the direction decides
// which side is const, and a flag inside the copy loop would cost more than the six lines.
// Images in parallel when `parallel`.
template <typename T>
void gather_planes(bool parallel, const T* nchw, const BlockView<T>& v, int64_t n0, int64_t nb,
                   int64_t g, T* mat) {
  const int64_t cols = v.cols(), ld = nb * cols;
  for_range(parallel, nb, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t c = 0; c < v.cout_g(); ++c)
        std::memcpy(mat + c * ld + b * cols, nchw + v.out_offset(n0 + b, g) + c * cols,
                    cols * sizeof(T));
  });
}
template <typename T>
void scatter_planes(bool parallel, const T* mat, const BlockView<T>& v, int64_t n0, int64_t nb,
                    int64_t g, T* nchw) {
  const int64_t cols = v.cols(), ld = nb * cols;
  for_range(parallel, nb, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t c = 0; c < v.cout_g(); ++c)
        std::memcpy(nchw + v.out_offset(n0 + b, g) + c * cols, mat + c * ld + b * cols,
                    cols * sizeof(T));
  });
}

// The block's images lowered side by side into the (rows x nb*cols) matrix `col`.
template <typename T>
void lower_block(bool parallel, const T* x, const BlockView<T>& v, int64_t n0, int64_t nb,
                 int64_t g, T* col) {
  const int64_t cols = v.cols(), ld = nb * cols;
  for_range(parallel, nb, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      im2col(x + v.image_offset(n0 + i, g), v.s.g, col + i * cols, ld);
  });
}

}  // namespace

template <typename T>
void add_conv_bias_grad(const ConvPlan& s, int64_t n0, int64_t n1, const T* dy, T* db) {
  const int64_t cols = s.out_h * s.out_w;
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t c = 0; c < s.c_out; ++c) {
      const T* d = dy + (n * s.c_out + c) * cols;
      T acc = 0;
      for (int64_t i = 0; i < cols; ++i) acc += d[i];
      db[c] += acc;
    }
}

template <typename T>
void im2col_conv_forward(const ConvPlan& s, const T* x, const T* w, T* y,
                         const ConvEpilogue<T>& epilogue) {
  const BlockView<T> v{s};
  const int64_t rows = v.rows(), cols = v.cols(), cout_g = v.cout_g();
  // Blocks in parallel, or the work inside each block. (Never both: a thread waiting on inner
  // work could pick up another block and overwrite its scratch.)
  const Im2colSchedule plan(s);
  const bool tiled = plan.tiled, inner = plan.inner();
  for_range(plan.batch_parallel, plan.blocks, [&](int64_t b0, int64_t b1) {
    T* col = thread_scratch<T, Scratch::gemm_operand>(rows * cols * s.block);
    T* out = thread_scratch<T, Scratch::gemm_result>(cout_g * cols * s.block);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * s.block, nb = std::min(s.block, s.n - n0), ld = nb * cols;
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* wg = w + g * cout_g * rows;
        if (s.direct) {  // nb == 1: the image is the column matrix, the output its plane block
          gemm_rows<T>(tiled, inner, false, false, cout_g, cols, rows, wg, rows,
                       x + v.image_offset(n0, g), cols, T(0), y + v.out_offset(n0, g), cols);
          continue;
        }
        lower_block(inner, x, v, n0, nb, g, col);
        if (nb == 1) {
          gemm_rows<T>(tiled, inner, false, false, cout_g, cols, rows, wg, rows, col, ld, T(0),
                       y + v.out_offset(n0, g), cols);
        } else {
          gemm_rows<T>(tiled, inner, false, false, cout_g, ld, rows, wg, rows, col, ld, T(0), out,
                       ld);
          scatter_planes(inner, out, v, n0, nb, g, y);
        }
      }
      for_range(inner, nb, [&](int64_t i0, int64_t i1) {
        for (int64_t n = n0 + i0; n < n0 + i1; ++n) epilogue.apply(y, n, 0, s.c_out);
      });
    }
  });
}

template <typename T>
void im2col_conv_backward(const ConvPlan& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                          T* db, bool need_dx, bool need_dw, bool need_db) {
  const BlockView<T> v{s};
  const int64_t rows = v.rows(), cols = v.cols(), cout_g = v.cout_g();
  const int64_t w_numel = s.c_out * rows;
  const Im2colSchedule plan(s);  // see im2col_conv_forward
  const bool tiled = plan.tiled, inner = plan.inner();
  const int64_t blocks = plan.blocks;
  // One partial weight (and bias) gradient per block, added in block order: the same bits
  // whichever thread ran which block.
  std::vector<T> dw_part(need_dw ? blocks * w_numel : 0, T(0));
  std::vector<T> db_part(need_db ? blocks * s.c_out : 0, T(0));
  for_range(plan.batch_parallel, blocks, [&](int64_t b0, int64_t b1) {
    T* col = thread_scratch<T, Scratch::gemm_operand>(rows * cols * s.block);
    T* dcol = thread_scratch<T, Scratch::gemm_operand_grad>(rows * cols * s.block);
    T* dyb = thread_scratch<T, Scratch::gemm_result>(cout_g * cols * s.block);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * s.block, nb = std::min(s.block, s.n - n0), ld = nb * cols;
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* wg = w + g * cout_g * rows;
        const T* dyg = dy + v.out_offset(n0, g);
        if (nb > 1) gather_planes(inner, dy, v, n0, nb, g, dyb), dyg = dyb;
        if (need_dw) {
          const T* colp = x + v.image_offset(n0, g);
          if (!s.direct) {
            lower_block(inner, x, v, n0, nb, g, col);
            colp = col;
          }
          gemm_rows<T>(tiled, inner, false, true, cout_g, rows, ld, dyg, ld, colp, ld, T(1),
                       dw_part.data() + blk * w_numel + g * cout_g * rows, rows);
        }
        if (need_dx) {
          if (s.direct) {
            gemm_rows<T>(tiled, inner, true, false, rows, cols, cout_g, wg, rows, dyg, cols, T(0),
                         dx + v.image_offset(n0, g), cols);
            continue;
          }
          gemm_rows<T>(tiled, inner, true, false, rows, ld, cout_g, wg, rows, dyg, ld, T(0), dcol,
                       ld);
          for_range(inner, nb, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) {
              T* img = dx + v.image_offset(n0 + i, g);
              std::memset(img, 0, s.g.channels * s.h * s.w * sizeof(T));
              col2im_add(dcol + i * cols, s.g, img, ld);
            }
          });
        }
      }
      if (need_db) add_conv_bias_grad(s, n0, n0 + nb, dy, db_part.data() + blk * s.c_out);
    }
  });
  for (int64_t blk = 0; blk < blocks; ++blk) {
    for (int64_t i = 0; need_dw && i < w_numel; ++i)
      dw[i] = (blk ? dw[i] : T(0)) + dw_part[blk * w_numel + i];
    for (int64_t c = 0; need_db && c < s.c_out; ++c)
      db[c] = (blk ? db[c] : T(0)) + db_part[blk * s.c_out + c];
  }
}

#define NL_IM2COL_INSTANTIATE(T)                                                                   \
  template void im2col_conv_forward<T>(const ConvPlan&, const T*, const T*, T*,                    \
                                       const ConvEpilogue<T>&);                                    \
  template void im2col_conv_backward<T>(const ConvPlan&, const T*, const T*, const T*, T*, T*, T*, \
                                        bool, bool, bool);                                         \
  template void add_conv_bias_grad<T>(const ConvPlan&, int64_t, int64_t, const T*, T*);
NL_IM2COL_INSTANTIATE(float)
NL_IM2COL_INSTANTIATE(double)
#undef NL_IM2COL_INSTANTIATE

}  // namespace nl
