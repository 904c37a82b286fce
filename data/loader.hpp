// DataLoader: shuffles with a seeded generator, assembles NCHW float32 batches (augmenting the
// samples of a batch in parallel with TBB) and prefetches the next batches on a background
// thread, so decoding and augmentation overlap the training step. The batches of an epoch
// depend only on (seed, epoch), never on the thread count, and under data-parallel training
// each rank builds only its shard of them.
//
//   DataLoader loader(train_set, {.batch_size = 128, .shuffle = true, .drop_last = true}, aug);
//   loader.start_epoch(epoch);
//   while (auto batch = loader.next()) { ... batch->images, batch->labels ... }
#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "core/tensor.hpp"
#include "data/image_set.hpp"
#include "data/transforms.hpp"

namespace nl::data {

struct Batch {
  Tensor images;                 // (B, C, H, W) float32
  std::vector<int64_t> labels;   // B
  std::vector<int64_t> indices;  // dataset indices of the samples
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int prefetch = 2;  // batches prepared ahead
  // Data-parallel training: this process is rank `rank` of `ranks` and its batches are its
  // shard of each global batch of batch_size samples (core/dist/shard.hpp). The global batches
  // and every sample's augmentation are those of one process.
  int rank = 0, ranks = 1;
};

class DataLoader {
 public:
  DataLoader(const ImageSet& set, LoaderOptions options, Compose transforms = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts producing the batches of `epoch` (stops any epoch in progress).
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch, or nullopt at its end. Rethrows a worker's error.
  std::optional<Batch> next();
  int64_t batches_per_epoch() const;
  // Builds batch b of `epoch` synchronously (what the worker does).
  Batch make_batch(int64_t epoch, int64_t b) const;

 private:
  void stop();
  std::vector<int64_t> order(int64_t epoch) const;

  const ImageSet& set_;
  LoaderOptions opt_;
  Compose transforms_;
  std::vector<int64_t> order_;

  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stopping_ = false, finished_ = false;
  int64_t epoch_ = 0;
};

}  // namespace nl::data
