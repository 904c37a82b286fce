#include "layers/norm/switchable_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {
namespace {

// softmax of a 3-vector, as differentiable ops, returned entry by entry.
std::vector<Tensor> softmax3(const Tensor& w) {
  const Tensor e = exp(sub(w, max(w).detach()));
  const Tensor p = div(e, sum(e));
  return {p.narrow(0, 0, 1), p.narrow(0, 1, 1), p.narrow(0, 2, 1)};
}

std::vector<double> importance(const Tensor& w) {
  NoGradGuard no_grad;
  std::vector<double> out;
  for (const Tensor& p : softmax3(w)) out.push_back(p.item());
  return out;
}

}  // namespace

SwitchableNorm::SwitchableNorm(int64_t c, SwitchableNormOptions o) : num_features(c), options(o) {
  check(c > 0, "SwitchableNorm", "num_features must be positive, got ", c);
  check(o.eps > 0, "SwitchableNorm", "eps must be > 0");
  if (o.affine) {
    weight = register_parameter("weight", Tensor::ones({c}));
    bias = register_parameter("bias", Tensor::zeros({c}));
  }
  mean_weight = register_parameter("mean_weight", Tensor::ones({3}));
  var_weight = register_parameter("var_weight", Tensor::ones({3}));
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}));
}

std::vector<double> SwitchableNorm::mean_importance() const {
  return importance(mean_weight);
}
std::vector<double> SwitchableNorm::var_importance() const {
  return importance(var_weight);
}

Tensor SwitchableNorm::forward(const Tensor& x) {
  const char* name = "SwitchableNorm";
  check(x.dim() == 4 && x.shape()[1] == num_features, name, "expected input (N, ", num_features,
        ", H, W), got ", shape_str(x.shape()));
  const int64_t n = x.shape()[0], c = num_features, l = x.shape()[2] * x.shape()[3];
  check(l > 1 || !options.unbiased_instance_var, name,
        "needs more than 1 spatial position for the unbiased instance variance, got input ",
        shape_str(x.shape()));
  const Tensor xv = x.reshape({n, c, l});
  const Tensor mean_in = mean(xv, {2}, true);  // (N, C, 1)
  const Tensor var_in = var(xv, {2}, options.unbiased_instance_var, true);
  const Tensor second_in = add(var_in, square(mean_in));
  const Tensor mean_ln = mean(mean_in, {1}, true);  // (N, 1, 1)
  const Tensor var_ln = sub(mean(second_in, {1}, true), square(mean_ln));
  Tensor mean_bn, var_bn;  // (1, C, 1)
  if (training_) {
    check(n > 1 || l > 1, name, "expected more than 1 value per channel when training");
    mean_bn = mean(mean_in, {0}, true);
    var_bn = sub(mean(second_in, {0}, true), square(mean_bn));
    const double tracked = num_batches_tracked.item() + 1;
    num_batches_tracked.fill_(tracked);
    update_running(running_mean, mean_bn.to_vector(), options.momentum, tracked);
    update_running(running_var, var_bn.to_vector(), options.momentum, tracked);
  } else {
    mean_bn = running_mean.view({1, c, 1});
    var_bn = running_var.view({1, c, 1});
  }
  const std::vector<Tensor> wm = softmax3(mean_weight), wv = softmax3(var_weight);
  const Tensor mu = add(add(mul(wm[0], mean_in), mul(wm[1], mean_ln)), mul(wm[2], mean_bn));
  const Tensor v = add(add(mul(wv[0], var_in), mul(wv[1], var_ln)), mul(wv[2], var_bn));
  Tensor y = div(sub(xv, mu), sqrt(add(v, options.eps))).reshape(x.shape());
  if (!weight.defined()) return y;
  return add(mul(y, weight.view({1, c, 1, 1})), bias.view({1, c, 1, 1}));
}

}  // namespace nl
