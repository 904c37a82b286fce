// SyncBatchNorm: BatchNorm whose training statistics pool the batches of every rank of a
// data-parallel job (or of consecutive groups of G ranks), as PyTorch's nn.SyncBatchNorm;
// docs/norms/sbn.md has the derivation.
//
//   train: per channel, each rank's (count n_r, mean m_r, M2_r = n_r var_r) in float64 are
//          gathered and combined in rank order by Chan's formula
//            n = n_a + n_b,  d = m_b - m_a,  m = m_a + d n_b / n,  M2 = M2_a + M2_b + d^2 n_a n_b /
//            n
//          (exact for uneven and empty per-rank batches, the same bits on every rank);
//          y = gamma (x - m) / sqrt(M2 / n + eps) + beta.
//   backward: BatchNorm's, with its two group sums (sum gamma dy, sum gamma dy (x - m)) summed
//          over the ranks and M = n: dx is the gradient of the sum of every rank's loss, which
//          is the global batch's loss when each rank weights its loss by its share of the batch
//          (layers/dist/data_parallel.hpp).
//   running statistics: updated with the pooled mean and the unbiased pooled variance
//          (M2 / (n - 1)), so they are the same on every rank.
//   eval:  BatchNorm's (running statistics, no communication).
// On one process (or group=1) it is BatchNorm, to the bit.
#pragma once
#include <memory>

#include "core/dist/communicator.hpp"
#include "layers/norm/batch_norm.hpp"

namespace nl {

class SyncBatchNorm : public BatchNorm {
 public:
  // comm: the ranks whose batches are pooled (dist::world(), or dist::world_groups(G)).
  SyncBatchNorm(int64_t num_features, BatchNormOptions options,
                std::shared_ptr<dist::Communicator> comm);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SyncBatchNorm"; }
  std::string describe() const override;

  const std::shared_ptr<dist::Communicator>& comm() const { return comm_; }

 private:
  std::shared_ptr<dist::Communicator> comm_;
};

}  // namespace nl
