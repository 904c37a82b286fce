// The one driver of both Winograd paths (F(2x2) in winograd.cpp, F(4x4) in winograd_f4.cpp):
// how a batch is cut into blocks of images and spread over the threads, and the steps each
// block takes. A tile size supplies only its layout and transforms (the Tile contract below).
// Results are bit-identical for any --threads: the weight gradient's schedule (which fixes its
// order of summation) depends only on the shape, and the convolutions themselves compute every
// output by the same calls under either schedule.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/blas.hpp"
#include "core/parallel.hpp"
#include "core/scratch.hpp"
#include "layers/conv/winograd.hpp"

namespace nl::winograd {

// Tiles one block (one GEMM) should cover at least: small late-stage maps put several images
// side by side, as im2col does. Small enough that a block's Winograd-domain matrices stay in L2
// between the transforms and the GEMMs; chosen by measuring 64 to 512 on ResNet-20 with both
// tile sizes (docs/performance.md).
constexpr int64_t kMinTileColumns = 128;
// With fewer blocks than this, blocks run one after another and the work inside each block
// (transforms, one GEMM per position) is split over the threads instead.
constexpr int64_t kMinBlocksForBatchParallelism = 16;
// A convolution (not a weight gradient) goes batch-parallel already when each thread gets this
// many blocks: the whole block per thread is cheaper than three synchronised parallel loops per
// block (at batch 32 the 8x8 stage has two blocks of 16 images: one per thread), and its bits
// do not depend on the schedule.
constexpr int64_t kMinBlocksPerThread = 1;

struct BlockSchedule {
  int64_t n = 0, block = 1, blocks = 0;  // images, images per block, blocks
  bool batch_parallel = false;           // blocks in parallel (else work split inside blocks)

  BlockSchedule() = default;
  BlockSchedule(int64_t images, int64_t tiles_per_image)
      : n(images), block(std::clamp<int64_t>(kMinTileColumns / tiles_per_image, 1, 16)) {
    blocks = (n + block - 1) / block;
    batch_parallel = blocks >= kMinBlocksForBatchParallelism;
  }
  bool split_inside() const { return !batch_parallel; }

  // This schedule for a convolution, whose output is the same under either way of running:
  // batch-parallel with kMinBlocksPerThread blocks per thread (never later than the shape rule).
  BlockSchedule for_convolution() const {
    BlockSchedule c = *this;
    c.batch_parallel = batch_parallel || blocks >= kMinBlocksPerThread * num_threads();
    return c;
  }

  // body(n0, nb, blk) for the images [n0, n0 + nb) of every block blk.
  template <typename F>
  void for_each_block(const F& body) const {
    for_range(batch_parallel, blocks, [&](int64_t b0, int64_t b1) {
      for (int64_t blk = b0; blk < b1; ++blk)
        body(blk * block, std::min(block, n - blk * block), blk);
    });
  }

  // The sum over blocks of what body(n0, nb, acc) adds into a zeroed `numel` accumulator (a weight
  // gradient): one partial per block when blocks run in parallel, added in block order; one
  // shared accumulator, blocks in order, otherwise.
  template <typename T, typename F>
  std::vector<T> sum_over_blocks(int64_t numel, const F& body) const {
    std::vector<T> part((batch_parallel ? blocks : 1) * numel, T(0));
    for_each_block([&](int64_t n0, int64_t nb, int64_t blk) {
      body(n0, nb, part.data() + (batch_parallel ? blk * numel : 0));
    });
    for (int64_t blk = 1; blk < (batch_parallel ? blocks : 1); ++blk)
      for (int64_t i = 0; i < numel; ++i) part[i] += part[blk * numel + i];
    part.resize(numel);
    return part;
  }
};

// Distance between the Winograd-domain matrices of one block: the matrix size plus a skew of one
// cache line, so the streams a transform writes (or reads) per tile do not all map to the same
// cache set when the matrix size is a power of two.
inline int64_t position_stride(int64_t rows, int64_t cols) {
  return rows * cols + 16;
}

// body(xi) for every position of the block's Winograd-domain matrices, the positions split
// over the threads when `parallel` (each position's product is independent).
template <typename F>
void for_each_position(bool parallel, int64_t positions, const F& body) {
  for_range(parallel, positions, [&](int64_t x0, int64_t x1) {
    for (int64_t xi = x0; xi < x1; ++xi) body(xi);
  });
}

// The block's per-position products C[xi] = op(A[xi]) op(B[xi]) (+ beta C[xi]) through cblas
// (F(2x2)'s channel-major layout; F(4x4) calls small_gemm in the same loop).
template <typename T>
void position_products(bool parallel, int64_t positions, bool trans_a, bool trans_b, int64_t m,
                       int64_t n, int64_t k, const T* a, int64_t a_stride, int64_t lda, const T* b,
                       int64_t b_stride, int64_t ldb, T beta, T* c, int64_t c_stride, int64_t ldc) {
  for_each_position(parallel, positions, [&](int64_t xi) {
    gemm<T>(trans_a, trans_b, m, n, k, T(1), a + xi * a_stride, lda, b + xi * b_stride, ldb, beta,
            c + xi * c_stride, ldc);
  });
}

// What a tile size supplies to the driver (each a static member of its Tile type):
//   kPositions                     entries of a Winograd-domain tile (16 for F(2x2), 36 F(4x4))
//   Plan make_plan(s)              tiles per image (p.tiles) and the block schedule (p.blocks)
//   filter_transform(p, w, flip)   U[xi] = (G g G^T)[xi], (C_out x C_in) per position
//   transform_in(p, x, channels, n0, nb, parallel, dy_side, out, stride)
//                                  V = B^T d B of the block's input tiles (dy_side: Z = A dY A^T
//                                  of output-gradient tiles), positions `stride` apart
//   products(parallel, p, u, v, v_stride, m, m_stride, cols)          M[xi] = U[xi] V[xi]
//   weight_products(parallel, p, z, z_stride, v, v_stride, du, cols)  dU[xi] += Z[xi] V[xi]^T
//   transform_out(p, m, m_stride, n0, nb, parallel, y, epilogue)      Y = A^T M A per tile,
//                                  then the epilogue on the planes just written
//   filter_grad(p, du, dw)         dw = G^T dU G per filter
// `cols` is the block's tile count (nb images x p.tiles); each tile size lays the matrices out
// its own way (channel-major for F(2x2), tile-major with 16-channel vectors for F(4x4)).

// y = epilogue(conv3x3(x, w)), stride 1, padding 1 (flip_transpose: the input gradient's
// convolution).
template <class Tile, typename T>
void conv3x3(const WinogradShape& s, const T* x, const T* w, bool flip_transpose, T* y,
             const ConvEpilogue<T>& epilogue) {
  const auto p = Tile::make_plan(s);
  const int64_t ins = s.in_channels, outs = s.out_channels, max_cols = p.blocks.block * p.tiles;
  const std::vector<T> u = Tile::template filter_transform<T>(p, w, flip_transpose);
  const BlockSchedule schedule = p.blocks.for_convolution();
  const bool inner = schedule.split_inside();
  schedule.for_each_block([&](int64_t n0, int64_t nb, int64_t) {
    const int64_t cols = nb * p.tiles;
    const int64_t v_stride = position_stride(ins, cols), m_stride = position_stride(outs, cols);
    T* v =
        thread_scratch<T, Scratch::gemm_operand>(Tile::kPositions * position_stride(ins, max_cols));
    T* m =
        thread_scratch<T, Scratch::gemm_result>(Tile::kPositions * position_stride(outs, max_cols));
    Tile::transform_in(p, x, ins, n0, nb, inner, false, v, v_stride);
    Tile::products(inner, p, u.data(), v, v_stride, m, m_stride, cols);
    Tile::transform_out(p, m, m_stride, n0, nb, inner, y, epilogue);
  });
}

// dw = dL/dw of y = conv3x3(x, w) given dy: the adjoint of the forward's three linear maps,
// summed over blocks in block order.
template <class Tile, typename T>
void weight_grad(const WinogradShape& s, const T* x, const T* dy, T* dw) {
  const auto p = Tile::make_plan(s);
  const int64_t ins = s.in_channels, outs = s.out_channels, max_cols = p.blocks.block * p.tiles;
  const bool inner = p.blocks.split_inside();
  const std::vector<T> du = p.blocks.template sum_over_blocks<T>(
      Tile::kPositions * outs * ins, [&](int64_t n0, int64_t nb, T* acc) {
        const int64_t cols = nb * p.tiles;
        const int64_t v_stride = position_stride(ins, cols), z_stride = position_stride(outs, cols);
        T* v = thread_scratch<T, Scratch::gemm_operand>(Tile::kPositions *
                                                        position_stride(ins, max_cols));
        T* z = thread_scratch<T, Scratch::gemm_result>(Tile::kPositions *
                                                       position_stride(outs, max_cols));
        Tile::transform_in(p, x, ins, n0, nb, inner, false, v, v_stride);
        Tile::transform_in(p, dy, outs, n0, nb, inner, true, z, z_stride);
        Tile::weight_products(inner, p, z, z_stride, v, v_stride, acc, cols);
      });
  Tile::filter_grad(p, du, dw);
}

}  // namespace nl::winograd
