// How the Winograd paths (F(2x2) in winograd.cpp, F(4x4) in winograd_f4.cpp) cut a batch into
// blocks of images and spread them over the threads. Everything here depends only on the shape,
// never on the thread count, so results are bit-identical for any --threads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.hpp"

namespace nl::winograd {

// Tiles one block (one GEMM) should cover at least: small late-stage maps put several images
// side by side, as im2col does. Small enough that a block's Winograd-domain matrices stay in L2
// between the transforms and the GEMMs; chosen by measuring 64 to 512 on ResNet-20 with both
// tile sizes (docs/performance.md).
constexpr int64_t kMinTileColumns = 128;
// With fewer blocks than this, blocks run one after another and the work inside each block
// (transforms, one GEMM per position) is split over the threads instead.
constexpr int64_t kMinBlocksForBatchParallelism = 16;

// Runs body(i0, i1) over [0, count): split over the threads, or in one call.
template <typename F>
void for_range(bool parallel, int64_t count, const F& body) {
  if (parallel)
    parallel_for(count, 1, body);
  else
    body(0, count);
}

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

}  // namespace nl::winograd
