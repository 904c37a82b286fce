#include "apps/common/cifar_data.hpp"

#include <filesystem>

#include "apps/common/run_checks.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "data/cifar_binary.hpp"
#include "data/image_folder.hpp"

namespace nl::apps {
namespace fs = std::filesystem;

Datasets load_cifar(const std::string& dir, bool test_only) {
  const std::string how =
      "Get CIFAR-10 from https://www.cs.toronto.edu/~kriz/cifar.html (binary version, extract "
      "cifar-10-batches-bin/) and pass --data DIR, or use an image folder with train/<class>/ "
      "and test/<class>/.";
  if (dir.empty()) throw Error("no data folder given. " + how);
  if (!fs::is_directory(dir)) throw Error(dir + ": data folder not found. " + how);
  Datasets d;
  const fs::path train_dir = fs::path(dir) / "train", test_dir = fs::path(dir) / "test";
  if (data::is_cifar10_binary_dir(dir)) {
    if (!test_only) d.train = std::make_unique<data::Cifar10Binary>(dir, true);
    d.test = std::make_unique<data::Cifar10Binary>(dir, false);
  } else if (fs::is_directory(test_dir) && (test_only || fs::is_directory(train_dir))) {
    if (test_only) {
      d.test = std::make_unique<data::ImageFolder>(test_dir.string());
      return d;
    }
    d.train = std::make_unique<data::ImageFolder>(train_dir.string());
    // The test images must have the training images' size: decode them against it, so that
    // the message names the first test file that differs.
    data::ImageFolderOptions test_options;
    test_options.expect_width = int(d.train->width());
    test_options.expect_height = int(d.train->height());
    d.test = std::make_unique<data::ImageFolder>(test_dir.string(), test_options);
  } else {
    throw Error(dir +
                ": neither a CIFAR-10 binary folder (data_batch_1.bin ...) nor an image "
                "folder with " +
                (test_only ? "test/" : "train/ and test/") + ". " + how);
  }
  if (d.train)
    check_same_classes(d.train->class_names(), d.test->class_names(),
                       dir + ": train/ and test/ (class folders)");
  return d;
}

Tensor normalized_images(const data::ImageSet& set, const std::vector<int64_t>& indices,
                         const std::vector<float>& mean, const std::vector<float>& std) {
  const int64_t n = int64_t(indices.size()), c = set.channels(), plane = set.height() * set.width();
  Tensor x = Tensor::empty({n, c, set.height(), set.width()});
  float* p = x.data<float>();
  parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const uint8_t* img = set.image(indices[i]);
      for (int64_t ch = 0; ch < c; ++ch) {
        const float m = mean[ch], inv = 1.0f / std[ch];
        for (int64_t k = 0; k < plane; ++k)
          p[(i * c + ch) * plane + k] = (img[ch * plane + k] / 255.0f - m) * inv;
      }
    }
  });
  return x;
}

}  // namespace nl::apps
