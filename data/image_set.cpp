#include "data/image_set.hpp"

#include <algorithm>
#include <cmath>

#include "core/random.hpp"

namespace nl::data {

ImageSet::ChannelStats ImageSet::channel_stats() const {
  ChannelStats s{std::vector<double>(channels_, 0.0), std::vector<double>(channels_, 0.0)};
  const int64_t plane = height_ * width_;
  // Integer sums are exact, so the statistics do not depend on the summation order.
  std::vector<uint64_t> sum(channels_, 0), sum_sq(channels_, 0);
  for (int64_t i = 0; i < size(); ++i)
    for (int64_t c = 0; c < channels_; ++c) {
      const uint8_t* p = image(i) + c * plane;
      uint64_t a = 0, b = 0;
      for (int64_t k = 0; k < plane; ++k) a += p[k], b += uint64_t(p[k]) * p[k];
      sum[c] += a, sum_sq[c] += b;
    }
  const double n = double(size()) * double(plane);
  for (int64_t c = 0; c < channels_; ++c) {
    const double m = double(sum[c]) / n;
    s.mean[c] = m / 255.0;
    s.std[c] = std::sqrt(std::max(0.0, double(sum_sq[c]) / n - m * m)) / 255.0;
  }
  return s;
}

std::vector<int64_t> ImageSet::class_counts() const {
  std::vector<int64_t> counts(class_names_.size(), 0);
  for (int64_t l : labels_) ++counts[l];
  return counts;
}

void ImageSet::keep_subset(int64_t n, uint64_t seed) {
  if (n <= 0 || n >= size()) return;
  std::vector<int64_t> idx(size());
  for (int64_t i = 0; i < size(); ++i) idx[i] = i;
  Generator g(seed ^ 0x5EEDu);
  for (int64_t i = 0; i < n; ++i)
    std::swap(idx[i], idx[i + int64_t(g.below(uint64_t(size() - i)))]);
  idx.resize(n);
  std::sort(idx.begin(), idx.end());
  std::vector<uint8_t> pixels(n * image_bytes());
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    std::copy(image(idx[i]), image(idx[i]) + image_bytes(), pixels.begin() + i * image_bytes());
    labels[i] = labels_[idx[i]];
  }
  pixels_ = std::move(pixels);
  labels_ = std::move(labels);
}

}  // namespace nl::data
