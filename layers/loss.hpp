// Classification loss and metric.
//
// cross_entropy(logits (N, K), labels) = mean_i [ -log softmax(logits_i)[y_i] ] with the
// log-softmax fused and shifted by the row max, so logits of 1e4 are as safe as logits of 1.
// With label smoothing s the target is (1 - s) * onehot(y) + s / K (PyTorch semantics).
// Backward: d/dlogits = (softmax - target) / N.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.hpp"

namespace nl {

Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels,
                     double label_smoothing = 0.0);
// Fraction of rows whose argmax equals the label.
double accuracy(const Tensor& logits, const std::vector<int64_t>& labels);

// The same with the labels as a tensor of N class indices (any dtype; each value must be a whole
// number in [0, K)), as PyTorch's F.cross_entropy(logits, target) takes them.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing = 0.0);
double accuracy(const Tensor& logits, const Tensor& labels);
// The index vector of a label tensor; throws naming the first value that is not a class index.
std::vector<int64_t> label_indices(const Tensor& labels);

}  // namespace nl
