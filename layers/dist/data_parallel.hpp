// Data-parallel training over a communicator (core/dist), the DistributedDataParallel recipe:
// every rank holds the same model, takes its own slice of each global batch, and the gradients
// are summed over the ranks before every optimizer step, so all ranks take the same step.
//
//   dist::DataParallel dp(model, dist::world());   // broadcasts rank 0's state
//   for each global batch of B samples:
//     dp.broadcast_buffers();                       // running statistics follow rank 0
//     Shard s = shard_of(B, rank, size);            // this rank's samples [s.begin, s.end)
//     loss = cross_entropy(model(x[s]), y[s]) * (s.size() / B);
//     loss.backward();  dp.allreduce_gradients();  opt.step();
//
// Weighting each rank's mean loss by its share of the batch makes the sum over ranks the
// gradient of the global batch's mean loss, exactly, also when B does not split evenly (and it
// is what SyncBatchNorm's backward needs: it sums its terms over the ranks unweighted).
#pragma once
#include <memory>
#include <string>

#include "core/dist/communicator.hpp"
#include "core/dist/shard.hpp"
#include "layers/module.hpp"

namespace nl::dist {

class DataParallel {
 public:
  // Copies rank 0's parameters and buffers to every rank (as after construction or a resume).
  DataParallel(Module& model, std::shared_ptr<Communicator> comm);

  void broadcast_state();  // parameters and buffers
  // Buffers only: PyTorch DDP's broadcast_buffers, before every forward, and once more before
  // evaluating or saving (a layer with per-rank statistics updated them from its own shard).
  void broadcast_buffers();
  // Sums every parameter's gradient over the ranks: one allreduce per dtype over one contiguous
  // buffer. A parameter with no gradient on any rank keeps none; with one on some rank only,
  // the others count zero.
  void allreduce_gradients();
  // Compares a 64-bit hash of every parameter and buffer with rank 0's; throws on every rank,
  // naming the first tensor that differs and the ranks where it does.
  void check_replicas_identical(const std::string& when);

  Communicator& comm() { return *comm_; }
  // Seconds spent in allreduce_gradients, and in the broadcasts, since construction.
  double allreduce_seconds() const { return allreduce_seconds_; }
  double broadcast_seconds() const { return broadcast_seconds_; }

 private:
  Module& model_;
  std::shared_ptr<Communicator> comm_;
  double allreduce_seconds_ = 0, broadcast_seconds_ = 0;
};

// FNV-1a over a tensor's elements (bytes in row-major order): equal hashes on two ranks mean
// equal bits, up to a 2^-64 chance.
uint64_t content_hash(const Tensor& t);

}  // namespace nl::dist
