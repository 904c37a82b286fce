#include "layers/conv/fold.hpp"

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "autograd/profiler.hpp"
#include "layers/container.hpp"

namespace nl {

std::pair<Tensor, Tensor> folded_conv_parameters(const Conv2d& conv, const ChannelAffine& a) {
  const Tensor w = conv.effective_weight().detach().contiguous();
  const int64_t out = w.size(0), per = w.numel() / out;
  check(int64_t(a.scale.size()) == out, "conv_then_norm", "a normalizer of ", a.scale.size(),
        " channels after a convolution of ", out);
  Tensor folded = Tensor::empty(w.shape(), w.dtype());
  Tensor bias = Tensor::empty({out}, w.dtype());
  const std::vector<double> b =
      conv.bias.defined() ? conv.bias.to_vector() : std::vector<double>(size_t(out), 0.0);
  dispatch(w.dtype(), [&]<typename T>() {
    const T* src = w.data<T>();
    T* dst = folded.data<T>();
    T* db = bias.data<T>();
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < per; ++i) dst[o * per + i] = T(a.scale[o] * double(src[o * per + i]));
      db[o] = T(a.scale[o] * b[o] + a.shift[o]);
    }
  });
  return {folded, bias};
}

namespace {

// Whether the pair fuses now and, for a BatchNorm-family normalizer, its per-channel affine map
// (none for an Identity): the one decision behind conv_then_norm and conv_then_norm_fuses.
struct Fusion {
  bool fuses = false;
  std::optional<ChannelAffine> affine = {};
};

Fusion plan_fusion(const Conv2d& conv, const Module& norm) {
  if (grad_enabled() || conv.has_forward_hooks() || norm.has_forward_hooks()) return {};
  if (dynamic_cast<const Identity*>(&norm)) return {.fuses = true};
  const auto* bn = dynamic_cast<const BatchNorm*>(&norm);
  if (!bn) return {};
  std::optional<ChannelAffine> affine = bn->inference_affine();
  const bool fuses = affine.has_value();
  return {.fuses = fuses, .affine = std::move(affine)};
}

}  // namespace

bool conv_then_norm_fuses(const Conv2d& conv, const Module& norm) {
  return plan_fusion(conv, norm).fuses;
}

Tensor conv_then_norm(Conv2d& conv, Module& norm, const Tensor& x, const AfterNorm& after) {
  const Fusion fusion = plan_fusion(conv, norm);
  if (fusion.fuses && !fusion.affine) {
    profiler::ForwardScope timed(profiler::enabled() ? "Conv2d (fused)" : std::string());
    return conv2d_fused(x, conv.effective_weight(), conv.bias, conv.options, after.residual,
                        after.relu);
  }
  if (fusion.fuses) {
    profiler::ForwardScope timed(profiler::enabled() ? "Conv2d+BatchNorm (folded)" : std::string());
    const auto [w, b] = folded_conv_parameters(conv, *fusion.affine);
    return conv2d_fused(x, w, b, conv.options, after.residual, after.relu);
  }
  const Tensor y = norm(conv(x));
  if (after.residual.defined())
    return after.relu ? add_relu(y, after.residual) : add(y, after.residual);
  return after.relu ? relu(y) : y;
}

}  // namespace nl
