#include "layers/norm/instance_enhanced_bn.hpp"

#include "autograd/ops.hpp"

namespace nl {

InstanceEnhancedBatchNorm::InstanceEnhancedBatchNorm(int64_t c, BatchNormOptions batch)
    : num_features(c) {
  batch.affine = false;
  bn = register_module("bn", std::make_shared<BatchNorm>(c, batch, 4));
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
  gate_weight = register_parameter("gate_weight", Tensor::zeros({c}));
  gate_bias = register_parameter("gate_bias", Tensor::full({c}, -1.0));
}

Tensor InstanceEnhancedBatchNorm::forward(const Tensor& x) {
  const Tensor xhat = (*bn)(x);  // checks the shape, naming BatchNorm2d
  const Shape per_channel{1, num_features, 1, 1};
  const Tensor gap = mean(x, {2, 3}, true);
  const Tensor gate =
      sigmoid(add(mul(gap, gate_weight.view(per_channel)), gate_bias.view(per_channel)));
  return add(mul(xhat, mul(gate, weight.view(per_channel))), bias.view(per_channel));
}

}  // namespace nl
