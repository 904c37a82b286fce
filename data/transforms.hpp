// Per-sample augmentations on a float (C, H, W) image. Each transform draws from its own
// generator, derived from (loader seed, epoch, sample index, transform position), so a sample's
// augmentation never depends on thread scheduling or on the other transforms.
//   Compose t({ToTensor(), RandomCrop(32, 4), RandomHorizontalFlip(), Normalize(mean, std)});
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/random.hpp"

namespace nl::data {

struct FloatImage {
  int64_t c, h, w;
  std::vector<float> pixels;  // (C, H, W)
};

class Transform {
 public:
  virtual ~Transform() = default;
  virtual void apply(FloatImage& img, Generator& rng) const = 0;
};
using TransformPtr = std::shared_ptr<Transform>;

// Pads `padding` zero pixels on every side, then crops a random size x size window.
// What fills the padding of RandomCrop: black (0, torchvision's default), the per-channel
// `fill` values (e.g. the dataset mean, so the border normalizes to 0), or the image mirrored
// at its edge without repeating it (torchvision's padding_mode="reflect").
enum class CropFill { zero, value, reflect };
TransformPtr RandomCrop(int64_t size, int64_t padding, CropFill fill = CropFill::zero,
                        std::vector<float> fill_values = {});
TransformPtr RandomHorizontalFlip(double p = 0.5);
// (x - mean_c) / std_c per channel.
TransformPtr Normalize(std::vector<float> mean, std::vector<float> std);
// Zeroes one random size x size square (its centre anywhere in the image, clipped at borders).
TransformPtr Cutout(int64_t size);

class Compose {
 public:
  Compose() = default;
  explicit Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {}
  // Applies every transform; stream_key identifies (seed, epoch, sample).
  void apply(FloatImage& img, uint64_t stream_key) const;
  bool empty() const { return transforms_.empty(); }

 private:
  std::vector<TransformPtr> transforms_;
};

}  // namespace nl::data
