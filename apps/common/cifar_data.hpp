// CIFAR-10 for the apps: the image folder or the official binary release, both splits checked
// against each other, and batches normalized with the training set's mean and std.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "data/image_set.hpp"

namespace nl::apps {

struct Datasets {
  std::unique_ptr<data::ImageSet> train, test;
};
// Detects the layout of `dir` and loads it; throws with a message saying how to get CIFAR-10.
// The two splits must have the same class names and image size (else an error listing the
// difference). With test_only, train/ is neither needed nor read (d.train stays empty).
Datasets load_cifar(const std::string& dir, bool test_only = false);

// Images `indices` of `set` as a float (N, C, H, W) batch: pixel/255, then (v - mean) / std per
// channel.
Tensor normalized_images(const data::ImageSet& set, const std::vector<int64_t>& indices,
                         const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace nl::apps
