#include "layers/norm/instance_enhanced_bn.hpp"

#include "autograd/ops.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_affine.hpp"
#include "layers/norm/registry.hpp"

namespace nl {

InstanceEnhancedBatchNorm::InstanceEnhancedBatchNorm(int64_t c, BatchNormOptions batch)
    : num_features(c) {
  batch.affine = false;
  bn = register_module("bn", std::make_shared<BatchNorm>(c, batch, 4));
  std::tie(weight, bias) = register_affine(*this, c);
  gate_weight = register_parameter("gate_weight", Tensor::zeros({c}));
  gate_bias = register_parameter("gate_bias", Tensor::full({c}, -1.0));
}

Tensor InstanceEnhancedBatchNorm::forward(const Tensor& x) {
  const Tensor xhat = (*bn)(x);  // checks the shape, naming BatchNorm2d
  // The gate and its gradient live on (N, C) values; the full-size work is BatchNorm's and
  // plane_affine's hand-derived passes.
  const Tensor gap = mean(x, {2, 3});  // (N, C)
  const Tensor gate = sigmoid(add(mul(gap, gate_weight), gate_bias));
  return plane_affine(xhat, mul(gate, weight), bias, "InstanceEnhancedBatchNorm");
}

NORMLAB_NORM(iebn) {
  return {
      .name = "iebn",
      .family = NormFamily::batch,
      .summary =
          "Instance-Enhancement BatchNorm: BatchNorm scale gated per sample by "
          "sigmoid(w GAP(x)+b)",
      .options = batch_norm_option_table(),
      .build = [](const NormArgs& a, int64_t c) {
        return NormSlot{std::make_shared<InstanceEnhancedBatchNorm>(c, batch_norm_options(a, {}))};
      }};
}

}  // namespace nl
