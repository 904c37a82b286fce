// An in-memory labelled image set: uint8 pixels, planar (C, H, W) per image, all the same size.
// Cifar10Binary and ImageFolder both fill one, so everything downstream (transforms, loader,
// statistics) sees a single interface.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace nl::data {

class ImageSet {
 public:
  // Sets are owned through ImageSet pointers (apps::Datasets): deleting an ImageFolder through
  // one must run its own destructor (AddressSanitizer: new-delete-type-mismatch without it).
  virtual ~ImageSet() = default;
  ImageSet() = default;
  ImageSet(const ImageSet&) = default;
  ImageSet(ImageSet&&) = default;
  ImageSet& operator=(const ImageSet&) = default;
  ImageSet& operator=(ImageSet&&) = default;
  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  int64_t channels() const { return channels_; }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  int64_t image_bytes() const { return channels_ * height_ * width_; }
  // Planar (C, H, W) pixels of image i.
  const uint8_t* image(int64_t i) const { return pixels_.data() + i * image_bytes(); }
  int64_t label(int64_t i) const { return labels_[i]; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names_.size()); }
  // Images skipped while loading (only when the loader was asked to skip bad files).
  int64_t skipped() const { return skipped_; }

  struct ChannelStats {
    std::vector<double> mean, std;  // per channel, pixel/255, population std
  };
  ChannelStats channel_stats() const;
  std::vector<int64_t> class_counts() const;
  // Keeps a fixed pseudo-random subset of n images, in their original order (for quick runs).
  // Image folders are stored class by class, so "the first n" would be one class only; the
  // subset depends only on (n, seed). n <= 0 or n >= size() keeps all.
  void keep_subset(int64_t n, uint64_t seed = 0);

 protected:
  int64_t channels_ = 0, height_ = 0, width_ = 0, skipped_ = 0;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
};

}  // namespace nl::data
