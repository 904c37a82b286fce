// Batch-Instance Normalization (Nam & Kim, NeurIPS 2018): a learned per-channel blend of the
// batch-normalized and the instance-normalized map, so each channel chooses how much of its
// per-sample style (contrast, brightness) to keep:
//
//   y = gamma_c (rho_c xhat_BN + (1 - rho_c) xhat_IN) + beta_c,   rho_c in [0, 1]
//
// xhat_BN normalizes over (N, H, W) per channel (batch statistics in training, the running ones
// in eval), xhat_IN over (H, W) per sample and channel. Both are the shared core's normalize
// op without affine (plane_norm.cpp, with its hand-derived backward); the blend and the affine
// are two per-plane affine ops (plane_affine.cpp):
//   blend = xhat_IN + rho (xhat_BN - xhat_IN),      y = gamma blend + beta
// so d rho_c = sum dblend (xhat_BN - xhat_IN). The paper clips rho to [0, 1] after every
// optimizer step; here each training forward first clips it in place (the same projection, done
// before rho's next use instead of inside the optimizer), and the blend uses clamp(rho, 0, 1),
// whose gradient passes on the bounds, so rho = 1 (the default start) can move inwards. Eval
// changes nothing, and clamp keeps an out-of-range rho loaded from elsewhere in range.
// Running statistics: the BatchNorm part's. docs/norms/bin.md.
#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/instance_norm.hpp"
#include "layers/norm/plane_affine.hpp"
#include "layers/norm/registry.hpp"

namespace nl {
namespace {

class BatchInstanceNorm : public Module {
 public:
  BatchInstanceNorm(int64_t channels, BatchNormOptions bn_options, double rho_init)
      : eps(bn_options.eps) {
    check(channels > 0, "BatchInstanceNorm", "needs a positive channel count, got ", channels);
    const bool affine = bn_options.affine;
    bn_options.affine = false;
    bn = register_module("bn", std::make_shared<BatchNorm>(channels, bn_options, 4));
    instance = register_module(
        "in", std::make_shared<InstanceNorm2d>(channels, InstanceNormOptions{.eps = eps}));
    rho = register_parameter("rho", Tensor::full({channels}, rho_init));
    if (affine) {
      std::tie(weight, bias) = register_affine(*this, channels);
    }
  }

  Tensor forward(const Tensor& x) override {
    if (is_training()) {  // the paper's clip of rho to [0, 1] after each optimizer step
      NoGradGuard no_grad;
      rho.copy_(clamp(rho, 0, 1));
    }
    const Tensor batch = (*bn)(x), per_sample = (*instance)(x);
    const Tensor blend = add(per_sample, plane_affine(sub(batch, per_sample), clamp(rho, 0, 1),
                                                      Tensor(), "BatchInstanceNorm"));
    return weight.defined() ? plane_affine(blend, weight, bias, "BatchInstanceNorm") : blend;
  }
  std::string type_name() const override { return "BatchInstanceNorm"; }

  double eps;
  ModulePtr bn, instance;
  Tensor rho, weight, bias;
};

}  // namespace

NORMLAB_NORM(bin) {
  std::vector<NormOption> options{
      NormOption::number("rho", 1, kUnit, "initial blend: 1 = BatchNorm, 0 = InstanceNorm")};
  for (NormOption& o : batch_norm_option_table()) options.push_back(std::move(o));
  return {.name = "bin",
          .family = NormFamily::batch,
          .summary =
              "Batch-Instance Normalization: learned per-channel blend rho BN + (1 - rho) "
              "IN, then the affine",
          .options = std::move(options),
          .build =
              [](const NormArgs& a, int64_t c) {
                return NormSlot{std::make_shared<BatchInstanceNorm>(c, batch_norm_options(a, {}),
                                                                    a.number("rho"))};
              },
          .page = "",
          .example = "bin:rho=0.5"};
}

}  // namespace nl
