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

bool fusion_allowed(const Conv2d& conv, const Module& norm) {
  return !grad_enabled() && !conv.has_forward_hooks() && !norm.has_forward_hooks();
}

}  // namespace

bool conv_then_norm_fuses(const Conv2d& conv, const Module& norm) {
  if (!fusion_allowed(conv, norm)) return false;
  if (dynamic_cast<const Identity*>(&norm)) return true;
  const auto* bn = dynamic_cast<const BatchNorm*>(&norm);
  return bn && bn->inference_affine().has_value();
}

Tensor conv_then_norm(Conv2d& conv, Module& norm, const Tensor& x, const AfterNorm& after) {
  if (fusion_allowed(conv, norm)) {
    if (dynamic_cast<Identity*>(&norm)) {
      profiler::ForwardScope timed(profiler::enabled() ? "Conv2d (fused)" : std::string());
      return conv2d_fused(x, conv.effective_weight(), conv.bias, conv.options, after.residual,
                          after.relu);
    }
    if (auto* bn = dynamic_cast<BatchNorm*>(&norm))
      if (const std::optional<ChannelAffine> affine = bn->inference_affine()) {
        profiler::ForwardScope timed(profiler::enabled() ? "Conv2d+BatchNorm (folded)"
                                                         : std::string());
        const auto [w, b] = folded_conv_parameters(conv, *affine);
        return conv2d_fused(x, w, b, conv.options, after.residual, after.relu);
      }
  }
  const Tensor y = norm(conv(x));
  if (after.residual.defined())
    return after.relu ? add_relu(y, after.residual) : add(y, after.residual);
  return after.relu ? relu(y) : y;
}

}  // namespace nl
