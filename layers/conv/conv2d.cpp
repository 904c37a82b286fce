#include "layers/conv/conv2d.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "core/parallel.hpp"
#include "layers/conv/conv_plan.hpp"
#include "layers/conv/im2col_gemm.hpp"
#include "layers/conv/winograd.hpp"

namespace nl {
namespace {

// The algorithm the plan chose: Winograd (F(4x4) or F(2x2)) or im2col + GEMM; each applies the
// epilogue (bias, and in fused inference the residual and ReLU) to its output as it writes it.
template <typename T>
void forward_kernel(const ConvPlan& s, const T* x, const T* w, const ConvEpilogue<T>& epilogue,
                    T* y) {
  if (!s.winograd) return im2col_conv_forward(s, x, w, y, epilogue);
  if (s.winograd_f4)
    winograd_f4_conv3x3(winograd_shape(s), x, w, false, y, epilogue);
  else
    winograd_conv3x3(winograd_shape(s), x, w, false, y, epilogue);
}

// The output of conv2d (fused: also + residual, then ReLU), computed without recording.
Tensor conv_output(const ConvPlan& s, const Tensor& x, const Tensor& w, const Tensor& b,
                   const Tensor& residual, bool relu) {
  Tensor y = Tensor::empty({s.n, s.c_out, s.out_h, s.out_w}, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const ConvEpilogue<T> epilogue{.bias = b.defined() ? b.data<T>() : nullptr,
                                   .residual = residual.defined() ? residual.data<T>() : nullptr,
                                   .relu = relu,
                                   .channels = s.c_out,
                                   .plane = s.out_h * s.out_w};
    forward_kernel<T>(s, x.data<T>(), w.data<T>(), epilogue, y.data<T>());
  });
  return y;
}

template <typename T>
void backward_kernel(const ConvPlan& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                     bool need_dx, bool need_dw, bool need_db) {
  if (!s.winograd) return im2col_conv_backward(s, x, w, dy, dx, dw, db, need_dx, need_dw, need_db);
  // The input gradient is the convolution of dy with the flipped filters.
  const WinogradShape flipped{s.n, s.c_out, s.c_in, s.h, s.w};
  if (need_dx && s.winograd_f4) winograd_f4_conv3x3(flipped, dy, w, true, dx);
  if (need_dx && !s.winograd_f4) winograd_conv3x3(flipped, dy, w, true, dx);
  if (need_dw && s.winograd_f4) winograd_f4_weight_grad(winograd_shape(s), x, dy, dw);
  if (need_dw && !s.winograd_f4) winograd_conv3x3_weight_grad(winograd_shape(s), x, dy, dw);
  if (need_db) std::fill(db, db + s.c_out, T(0)), add_conv_bias_grad(s, 0, s.n, dy, db);
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
              const Conv2dOptions& opt) {
  const ConvPlan s = plan_conv(x_in, w_in, b_in, opt);
  const Tensor x = x_in.detach().contiguous(), w = w_in.detach().contiguous();
  const Tensor b = b_in.defined() ? b_in.detach().contiguous() : Tensor();
  Tensor y = conv_output(s, x, w, b, Tensor(), false);
  const bool need_dx = x_in.requires_grad(), need_dw = w_in.requires_grad();
  const bool need_db = b_in.defined() && b_in.requires_grad();
  return record(y, "conv2d", {x_in, w_in, b_in}, [=](const Tensor& gy) {
    const Tensor dy = gy.contiguous();
    Tensor dx = need_dx ? Tensor::empty(x.shape(), x.dtype()) : Tensor();
    Tensor dw = need_dw ? Tensor::empty(w.shape(), w.dtype()) : Tensor();
    Tensor db = need_db ? Tensor::empty({s.c_out}, w.dtype()) : Tensor();
    dispatch(x.dtype(), [&]<typename T>() {
      backward_kernel<T>(s, x.data<T>(), w.data<T>(), dy.data<T>(),
                         need_dx ? dx.data<T>() : nullptr, need_dw ? dw.data<T>() : nullptr,
                         need_db ? db.data<T>() : nullptr, need_dx, need_dw, need_db);
    });
    return std::vector<Tensor>{dx, dw, db};
  });
}

Tensor conv2d_fused(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
                    const Conv2dOptions& opt, const Tensor& residual, bool relu) {
  const ConvPlan s = plan_conv(x_in, w_in, b_in, opt);
  const Shape out{s.n, s.c_out, s.out_h, s.out_w};
  check(!residual.defined() || (residual.shape() == out && residual.dtype() == x_in.dtype()),
        "conv2d_fused", "residual ", residual.defined() ? residual.str() : std::string(),
        " does not match the output ", shape_str(out), " ", dtype_name(x_in.dtype()));
  const bool recording = grad_enabled() && (x_in.requires_grad() || w_in.requires_grad() ||
                                            (b_in.defined() && b_in.requires_grad()) ||
                                            (residual.defined() && residual.requires_grad()));
  if (recording) {  // the composite, op by op, so autograd sees each
    Tensor y = conv2d(x_in, w_in, b_in, opt);
    if (residual.defined()) return relu ? add_relu(y, residual) : add(y, residual);
    return relu ? nl::relu(y) : y;
  }
  const Tensor b = b_in.defined() ? b_in.detach().contiguous() : Tensor();
  return conv_output(s, x_in.detach().contiguous(), w_in.detach().contiguous(), b,
                     residual.defined() ? residual.detach().contiguous() : Tensor(), relu);
}

Tensor conv2d_weight_grad(const Tensor& x_in, const Tensor& dy_in, const Shape& weight_shape,
                          const Conv2dOptions& opt) {
  const Tensor shape_only = Tensor::empty(weight_shape, x_in.dtype());
  const ConvPlan s = plan_conv(x_in, shape_only, Tensor(), opt);
  check(dy_in.shape() == Shape{s.n, s.c_out, s.out_h, s.out_w}, "conv2d_weight_grad",
        "dy has shape ", shape_str(dy_in.shape()), " but the convolution outputs ",
        shape_str({s.n, s.c_out, s.out_h, s.out_w}));
  const Tensor x = x_in.detach().contiguous(), dy = dy_in.detach().contiguous().to(x.dtype());
  Tensor dw = Tensor::empty(weight_shape, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    backward_kernel<T>(s, x.data<T>(), shape_only.data<T>(), dy.data<T>(), nullptr, dw.data<T>(),
                       nullptr, false, true, false);
  });
  return dw;
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, bool has_bias,
               int64_t groups, int64_t dilation)
    : in_channels(in), out_channels(out), kernel_size(k) {
  check(in > 0 && out > 0 && k > 0, "Conv2d", "channels and kernel size must be positive");
  check(groups >= 1 && in % groups == 0 && out % groups == 0, "Conv2d", "groups=", groups,
        " must divide in_channels=", in, " and out_channels=", out);
  options.stride = {stride, stride};
  options.padding = {padding, padding};
  options.dilation = {dilation, dilation};
  options.groups = groups;
  weight = register_parameter("weight", Tensor::empty({out, in / groups, k, k}));
  kaiming_uniform_(weight, std::sqrt(5.0));  // PyTorch default
  if (has_bias) {
    bias = register_parameter("bias", Tensor::empty({out}));
    const double bound = 1.0 / std::sqrt(double(compute_fans(weight).in));
    uniform_(bias, -bound, bound);
  }
}

void Conv2d::attach_weight_normalizer(ModulePtr normalizer) {
  check(!weight_norm, "Conv2d", "already has a weight normalizer");
  weight_norm = register_module("weight_norm", std::move(normalizer));
}

Tensor Conv2d::effective_weight() const {
  return weight_norm ? (*weight_norm)(weight) : weight;
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, effective_weight(), bias, options);
}

std::string Conv2d::describe() const {
  std::ostringstream os;
  os << "Conv2d(" << in_channels << ", " << out_channels << ", kernel_size=" << kernel_size
     << ", stride=" << options.stride[0] << ", padding=" << options.padding[0];
  if (options.dilation[0] != 1) os << ", dilation=" << options.dilation[0];
  if (options.groups != 1) os << ", groups=" << options.groups;
  os << ", bias=" << (bias.defined() ? "True" : "False") << ")";
  return os.str();
}

}  // namespace nl
