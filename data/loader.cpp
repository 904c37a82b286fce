#include "data/loader.hpp"

#include "core/dist/shard.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"

namespace nl::data {

DataLoader::DataLoader(const ImageSet& set, LoaderOptions opt, Compose t)
    : set_(set), opt_(opt), transforms_(std::move(t)) {
  check(opt.batch_size >= 1, "DataLoader", "batch_size must be >= 1");
  check(set.size() > 0, "DataLoader", "the dataset is empty");
  check(opt.prefetch >= 1, "DataLoader", "prefetch must be >= 1");
  check(opt.ranks >= 1 && opt.rank >= 0 && opt.rank < opt.ranks, "DataLoader", "rank ", opt.rank,
        " of ", opt.ranks);
  check(opt.batch_size >= opt.ranks, "DataLoader", "a batch of ", opt.batch_size,
        " samples cannot give each of ", opt.ranks, " ranks at least one");
}

DataLoader::~DataLoader() {
  stop();
}

int64_t DataLoader::batches_per_epoch() const {
  return opt_.drop_last ? set_.size() / opt_.batch_size
                        : (set_.size() + opt_.batch_size - 1) / opt_.batch_size;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  std::vector<int64_t> idx(set_.size());
  for (int64_t i = 0; i < set_.size(); ++i) idx[i] = i;
  if (opt_.shuffle) {  // Fisher-Yates from a generator keyed by (seed, epoch)
    Generator g(opt_.seed * 1000003ull + uint64_t(epoch));
    for (int64_t i = set_.size() - 1; i > 0; --i) std::swap(idx[i], idx[g.below(uint64_t(i) + 1)]);
  }
  return idx;
}

Batch DataLoader::make_batch(int64_t epoch, int64_t b) const {
  const std::vector<int64_t>& idx = order_;
  const int64_t global = std::min(opt_.batch_size, set_.size() - b * opt_.batch_size);
  const dist::Shard mine = dist::shard_of(global, opt_.rank, opt_.ranks);
  const int64_t start = b * opt_.batch_size + mine.begin;
  const int64_t n = mine.size();
  // Output size: run the transforms on the first sample to learn it (crops may change it).
  const int64_t c = set_.channels(), h = set_.height(), w = set_.width();
  Batch batch;
  batch.labels.resize(n);
  batch.indices.assign(idx.begin() + start, idx.begin() + start + n);
  std::vector<FloatImage> images(n);
  parallel_for(n, 8, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      const int64_t k = batch.indices[i];
      FloatImage img{c, h, w, std::vector<float>(c * h * w)};
      const uint8_t* px = set_.image(k);
      for (int64_t j = 0; j < c * h * w; ++j) img.pixels[j] = px[j] * (1.0f / 255.0f);
      transforms_.apply(
          img, (opt_.seed * 0x100000001B3ull + uint64_t(epoch)) * 0x1000193ull + uint64_t(k));
      images[i] = std::move(img);
    }
  });
  if (n == 0) {  // a last partial batch smaller than the rank count: learn the output size
    FloatImage blank{c, h, w, std::vector<float>(c * h * w, 0.0f)};
    transforms_.apply(blank, 0);
    batch.images = Tensor::empty({0, blank.c, blank.h, blank.w});
    return batch;
  }
  const FloatImage& first = images[0];
  batch.images = Tensor::empty({n, first.c, first.h, first.w});
  float* out = batch.images.data<float>();
  const int64_t per = first.c * first.h * first.w;
  for (int64_t i = 0; i < n; ++i) {
    check(int64_t(images[i].pixels.size()) == per, "DataLoader",
          "transforms produced images of different sizes");
    std::copy(images[i].pixels.begin(), images[i].pixels.end(), out + i * per);
    batch.labels[i] = set_.label(batch.indices[i]);
  }
  return batch;
}

void DataLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  queue_.clear();
  stopping_ = false;
}

void DataLoader::start_epoch(int64_t epoch) {
  stop();
  epoch_ = epoch;
  order_ = order(epoch);
  finished_ = false;
  error_ = nullptr;
  worker_ = std::thread([this, epoch] {
    const int64_t total = batches_per_epoch();
    for (int64_t b = 0; b < total; ++b) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || int(queue_.size()) < opt_.prefetch; });
        if (stopping_) return;
      }
      try {
        Batch batch = make_batch(epoch, b);
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(std::move(batch));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        error_ = std::current_exception();
        finished_ = true;
        cv_.notify_all();
        return;
      }
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    cv_.notify_all();
  });
}

std::optional<Batch> DataLoader::next() {
  std::unique_lock<std::mutex> lock(mu_);
  check(worker_.joinable(), "DataLoader", "call start_epoch() before next()");
  cv_.wait(lock, [&] { return !queue_.empty() || finished_; });
  if (!queue_.empty()) {
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return b;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

}  // namespace nl::data
