#include "layers/norm/batch_norm.hpp"

#include <sstream>

#include "layers/norm/plane_norm.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {

BatchNorm::BatchNorm(int64_t c, BatchNormOptions o, int dims)
    : num_features(c), options(o), expected_dims(dims) {
  check(c > 0, "BatchNorm", "num_features must be positive, got ", c);
  check(o.eps >= 0, "BatchNorm", "eps must be >= 0");
  if (o.affine) {
    weight = register_parameter("weight", Tensor::ones({c}));
    bias = register_parameter("bias", Tensor::zeros({c}));
  }
  if (o.track_running_stats || o.frozen) {
    running_mean = register_buffer("running_mean", Tensor::zeros({c}));
    running_var = register_buffer("running_var", Tensor::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}));
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  const char* name = "BatchNorm";
  if (expected_dims == 4)
    check(x.dim() == 4, "BatchNorm2d", "expected 4-D input (N, C, H, W), got ",
          shape_str(x.shape()));
  if (expected_dims == 2)
    check(x.dim() == 2 || x.dim() == 3, "BatchNorm1d", "expected 2-D or 3-D input, got ",
          shape_str(x.shape()));
  check(x.dim() >= 2 && x.shape()[1] == num_features, name, "expected ", num_features,
        " channels, got input ", shape_str(x.shape()));
  const StatLayout layout = StatLayout::of(x, num_features, true, name);
  const bool use_batch = !options.frozen && (training_ || !running_mean.defined());
  if (!use_batch) {
    Moments fixed{running_mean.to_vector(), running_var.to_vector()};
    return plane_norm(x, weight, bias, layout, options.eps, &fixed, name).y;
  }
  check(layout.count() > 1, name,
        "expected more than 1 value per channel when training, got input ", shape_str(x.shape()));
  PlaneNormOutput out = plane_norm(x, weight, bias, layout, options.eps, nullptr, name);
  if (training_ && running_mean.defined()) {
    const double tracked = num_batches_tracked.item() + 1;
    num_batches_tracked.fill_(tracked);
    const double m = double(layout.count());
    std::vector<double> unbiased = out.batch.var;
    for (double& v : unbiased) v *= m / (m - 1);
    update_running(running_mean, out.batch.mean, options.momentum, tracked);
    update_running(running_var, unbiased, options.momentum, tracked);
  }
  return out.y;
}

std::string BatchNorm::describe() const {
  std::ostringstream os;
  os << "BatchNorm(" << num_features << ", eps=" << options.eps << ", momentum=";
  if (options.momentum)
    os << *options.momentum;
  else
    os << "None";
  os << ", affine=" << (options.affine ? "True" : "False")
     << ", track_running_stats=" << (options.track_running_stats ? "True" : "False")
     << (options.frozen ? ", frozen" : "") << ")";
  return os.str();
}

}  // namespace nl
