#include "layers/conv/fold.hpp"

#include "autograd/node.hpp"
#include "autograd/profiler.hpp"

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

Tensor conv_then_norm(Conv2d& conv, Module& norm, const Tensor& x) {
  auto* bn = dynamic_cast<BatchNorm*>(&norm);
  if (bn && !grad_enabled() && !conv.has_forward_hooks() && !norm.has_forward_hooks()) {
    if (const std::optional<ChannelAffine> affine = bn->inference_affine()) {
      profiler::ForwardScope timed(profiler::enabled() ? "Conv2d+BatchNorm (folded)"
                                                       : std::string());
      const auto [w, b] = folded_conv_parameters(conv, *affine);
      return conv2d(x, w, b, conv.options);
    }
  }
  return norm(conv(x));
}

}  // namespace nl
