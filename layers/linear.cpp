#include "layers/linear.hpp"

#include <cmath>

#include "autograd/ops.hpp"
#include "core/init.hpp"

namespace nl {

Linear::Linear(int64_t in, int64_t out, bool has_bias) : in_features(in), out_features(out) {
  check(in > 0 && out > 0, "Linear", "features must be positive, got ", in, " -> ", out);
  weight = register_parameter("weight", Tensor::empty({out, in}));
  kaiming_uniform_(weight, std::sqrt(5.0));
  if (has_bias) {
    bias = register_parameter("bias", Tensor::empty({out}));
    uniform_(bias, -1.0 / std::sqrt(double(in)), 1.0 / std::sqrt(double(in)));
  }
}

Tensor Linear::forward(const Tensor& x) {
  check(x.dim() == 2 && x.shape()[1] == in_features, "Linear", "expected input (N, ", in_features,
        "), got ", shape_str(x.shape()));
  Tensor y = matmul(x, effective_weight().transpose(0, 1));
  return bias.defined() ? add(y, bias) : y;
}

void Linear::attach_weight_normalizer(ModulePtr normalizer) {
  check(!weight_norm, "Linear", "already has a weight normalizer");
  weight_norm = register_module("weight_norm", std::move(normalizer));
}

Tensor Linear::effective_weight() const {
  return weight_norm ? (*weight_norm)(weight) : weight;
}

std::string Linear::describe() const {
  return "Linear(in_features=" + std::to_string(in_features) +
         ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False") + ")";
}

}  // namespace nl
