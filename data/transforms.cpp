#include "data/transforms.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace nl::data {
namespace {

class RandomCropT : public Transform {
 public:
  RandomCropT(int64_t size, int64_t pad, CropFill fill, std::vector<float> values)
      : size_(size), pad_(pad), fill_(fill), values_(std::move(values)) {}
  void apply(FloatImage& img, Generator& rng) const override {
    check(img.h + 2 * pad_ >= size_ && img.w + 2 * pad_ >= size_, "RandomCrop", "crop ", size_,
          " is larger than the padded image ", img.h, "x", img.w);
    check(fill_ != CropFill::value || int64_t(values_.size()) == img.c, "RandomCrop",
          "fill needs one value per channel (", img.c, "), got ", values_.size());
    check(fill_ != CropFill::reflect || (pad_ < img.h && pad_ < img.w), "RandomCrop",
          "reflect padding ", pad_, " needs an image larger than it, got ", img.h, "x", img.w);
    const int64_t oy = int64_t(rng.below(img.h + 2 * pad_ - size_ + 1)) - pad_;
    const int64_t ox = int64_t(rng.below(img.w + 2 * pad_ - size_ + 1)) - pad_;
    // Mirror an out-of-range index back inside [0, n) without repeating the edge pixel.
    const auto reflect = [](int64_t i, int64_t n) {
      return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
    };
    std::vector<float> out(img.c * size_ * size_, 0.0f);
    for (int64_t c = 0; c < img.c; ++c)
      for (int64_t y = 0; y < size_; ++y)
        for (int64_t x = 0; x < size_; ++x) {
          int64_t sy = y + oy, sx = x + ox;
          const bool inside = sy >= 0 && sy < img.h && sx >= 0 && sx < img.w;
          float& o = out[(c * size_ + y) * size_ + x];
          if (!inside && fill_ == CropFill::zero) continue;
          if (!inside && fill_ == CropFill::value) {
            o = values_[c];
            continue;
          }
          if (!inside) sy = reflect(sy, img.h), sx = reflect(sx, img.w);
          o = img.pixels[(c * img.h + sy) * img.w + sx];
        }
    img.pixels = std::move(out);
    img.h = img.w = size_;
  }

 private:
  int64_t size_, pad_;
  CropFill fill_;
  std::vector<float> values_;
};

class FlipT : public Transform {
 public:
  explicit FlipT(double p) : p_(p) {}
  void apply(FloatImage& img, Generator& rng) const override {
    if (rng.uniform() >= p_) return;
    for (int64_t r = 0; r < img.c * img.h; ++r) {
      float* row = img.pixels.data() + r * img.w;
      std::reverse(row, row + img.w);
    }
  }

 private:
  double p_;
};

class NormalizeT : public Transform {
 public:
  NormalizeT(std::vector<float> m, std::vector<float> s) : mean_(std::move(m)), std_(std::move(s)) {
    check(mean_.size() == std_.size(), "Normalize", "mean and std have different lengths");
    for (float v : std_) check(v > 0, "Normalize", "std must be positive");
  }
  void apply(FloatImage& img, Generator&) const override {
    check(int64_t(mean_.size()) == img.c, "Normalize", "has ", mean_.size(),
          " channels, image has ", img.c);
    const int64_t plane = img.h * img.w;
    for (int64_t c = 0; c < img.c; ++c) {
      const float m = mean_[c], inv = 1.0f / std_[c];
      float* p = img.pixels.data() + c * plane;
      for (int64_t i = 0; i < plane; ++i) p[i] = (p[i] - m) * inv;
    }
  }

 private:
  std::vector<float> mean_, std_;
};

class CutoutT : public Transform {
 public:
  explicit CutoutT(int64_t size) : size_(size) {}
  void apply(FloatImage& img, Generator& rng) const override {
    const int64_t cy = rng.below(img.h), cx = rng.below(img.w);
    const int64_t y0 = std::max<int64_t>(0, cy - size_ / 2),
                  y1 = std::min(img.h, cy - size_ / 2 + size_);
    const int64_t x0 = std::max<int64_t>(0, cx - size_ / 2),
                  x1 = std::min(img.w, cx - size_ / 2 + size_);
    for (int64_t c = 0; c < img.c; ++c)
      for (int64_t y = y0; y < y1; ++y)
        std::fill(img.pixels.begin() + (c * img.h + y) * img.w + x0,
                  img.pixels.begin() + (c * img.h + y) * img.w + x1, 0.0f);
  }

 private:
  int64_t size_;
};

}  // namespace

TransformPtr RandomCrop(int64_t size, int64_t padding, CropFill fill,
                        std::vector<float> fill_values) {
  check(size > 0 && padding >= 0, "RandomCrop", "size must be positive and padding >= 0");
  return std::make_shared<RandomCropT>(size, padding, fill, std::move(fill_values));
}
TransformPtr RandomHorizontalFlip(double p) {
  return std::make_shared<FlipT>(p);
}
TransformPtr Normalize(std::vector<float> mean, std::vector<float> std) {
  return std::make_shared<NormalizeT>(std::move(mean), std::move(std));
}
TransformPtr Cutout(int64_t size) {
  check(size > 0, "Cutout", "size must be positive");
  return std::make_shared<CutoutT>(size);
}

void Compose::apply(FloatImage& img, uint64_t key) const {
  for (size_t t = 0; t < transforms_.size(); ++t) {
    Generator rng(key * 0x9E3779B97F4A7C15ull + t);
    transforms_[t]->apply(img, rng);
  }
}

}  // namespace nl::data
