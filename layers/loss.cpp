#include "layers/loss.hpp"

#include <cmath>

#include "autograd/node.hpp"

namespace nl {

Tensor cross_entropy(const Tensor& logits_in, const std::vector<int64_t>& labels, double smooth) {
  check(logits_in.dim() == 2, "cross_entropy", "expected logits (N, classes), got ",
        shape_str(logits_in.shape()));
  const int64_t n = logits_in.shape()[0], k = logits_in.shape()[1];
  check(static_cast<int64_t>(labels.size()) == n, "cross_entropy", labels.size(), " labels for ", n,
        " rows of logits");
  check(smooth >= 0 && smooth <= 1, "cross_entropy", "label_smoothing must be in [0, 1]");
  for (int64_t i = 0; i < n; ++i)
    check(labels[i] >= 0 && labels[i] < k, "cross_entropy", "label ", labels[i], " at row ", i,
          " is outside [0, ", k, ")");
  const Tensor logits = logits_in.detach().contiguous();
  Tensor probs = Tensor::empty({n, k}, logits.dtype());
  double total = 0;
  dispatch(logits.dtype(), [&]<typename T>() {
    const T* z = logits.data<T>();
    T* p = probs.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      const T* row = z + i * k;
      T m = row[0];
      for (int64_t j = 1; j < k; ++j) m = std::max(m, row[j]);
      double se = 0, sum_logp = 0;
      for (int64_t j = 0; j < k; ++j) se += std::exp(double(row[j] - m));
      const double lse = std::log(se);
      for (int64_t j = 0; j < k; ++j) {
        const double logp = double(row[j] - m) - lse;
        p[i * k + j] = static_cast<T>(std::exp(logp));
        sum_logp += logp;
      }
      const double logp_y = double(row[labels[i]] - m) - lse;
      total += -(1 - smooth) * logp_y - smooth / k * sum_logp;
    }
  });
  Tensor loss = Tensor::scalar(total / n, logits.dtype());
  return record(loss, "cross_entropy", {logits_in}, [probs, labels, smooth, n, k](const Tensor& g) {
    Tensor d = Tensor::empty({n, k}, probs.dtype());
    dispatch(probs.dtype(), [&]<typename T>() {
      const T* p = probs.data<T>();
      T* o = d.data<T>();
      const T scale = T(g.item() / n);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j) {
          const double target = (j == labels[i] ? 1 - smooth : 0.0) + smooth / k;
          o[i * k + j] = static_cast<T>((p[i * k + j] - target) * scale);
        }
    });
    return std::vector<Tensor>{d};
  });
}

double accuracy(const Tensor& logits, const std::vector<int64_t>& labels) {
  check(logits.dim() == 2 && logits.shape()[0] == static_cast<int64_t>(labels.size()), "accuracy",
        "logits ", shape_str(logits.shape()), " do not match ", labels.size(), " labels");
  const auto v = logits.to_vector();
  const int64_t k = logits.shape()[1];
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (v[i * k + j] > v[i * k + best]) best = j;
    correct += best == labels[i];
  }
  return labels.empty() ? 0.0 : double(correct) / labels.size();
}

std::vector<int64_t> label_indices(const Tensor& labels) {
  check(labels.dim() == 1, "cross_entropy", "labels must be a 1-D tensor of class indices, got ",
        shape_str(labels.shape()));
  const std::vector<double> values = labels.to_vector();
  std::vector<int64_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    check(values[i] >= 0 && values[i] == std::floor(values[i]) && values[i] < 9e15, "cross_entropy",
          "label ", i, " is ", values[i], ", not a class index");
    out[i] = int64_t(values[i]);
  }
  return out;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing) {
  return cross_entropy(logits, label_indices(labels), label_smoothing);
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  return accuracy(logits, label_indices(labels));
}

}  // namespace nl
