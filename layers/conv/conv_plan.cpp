#include "layers/conv/conv_plan.hpp"

#include <algorithm>

namespace nl {
namespace {

// Columns one GEMM should cover at least. Small late-stage maps (8x8 = 64 columns) are batched
// several images side by side, so OpenBLAS sees N >= 512 instead of 64. The block size depends
// only on the shape, never on the thread count: results stay bit-identical for any --threads.
constexpr int64_t kMinGemmColumns = 512;

}  // namespace

ConvPlan plan_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  check(x.dim() == 4, "conv2d", "expected input (N, C, H, W), got ", shape_str(x.shape()));
  check(w.dim() == 4, "conv2d", "expected weight (C_out, C_in/groups, kh, kw), got ",
        shape_str(w.shape()));
  check(x.dtype() == w.dtype(), "conv2d", "input is ", x.str(), " but weight is ", w.str());
  check(o.groups >= 1 && x.shape()[1] % o.groups == 0 && w.shape()[0] % o.groups == 0, "conv2d",
        "groups=", o.groups, " must divide input channels ", x.shape()[1], " and output channels ",
        w.shape()[0]);
  check(w.shape()[1] * o.groups == x.shape()[1], "conv2d", "input has ", x.shape()[1],
        " channels but weight ", shape_str(w.shape()), " with groups=", o.groups, " expects ",
        w.shape()[1] * o.groups);
  if (b.defined())
    check(b.dim() == 1 && b.shape()[0] == w.shape()[0], "conv2d", "bias ", shape_str(b.shape()),
          " does not match ", w.shape()[0], " output channels");
  for (int i = 0; i < 2; ++i)
    check(o.stride[i] >= 1 && o.dilation[i] >= 1 && o.padding[i] >= 0, "conv2d",
          "stride and dilation must be >= 1 and padding >= 0");
  ConvPlan s;
  s.n = x.shape()[0], s.c_in = x.shape()[1], s.h = x.shape()[2], s.w = x.shape()[3];
  s.c_out = w.shape()[0], s.groups = o.groups;
  const int64_t kh = w.shape()[2], kw = w.shape()[3];
  const int64_t eff_h = o.dilation[0] * (kh - 1) + 1, eff_w = o.dilation[1] * (kw - 1) + 1;
  check(s.h + 2 * o.padding[0] >= eff_h && s.w + 2 * o.padding[1] >= eff_w, "conv2d", "input ",
        shape_str(x.shape()), " (padded) is smaller than the ", kh, "x", kw, " kernel");
  s.out_h = (s.h + 2 * o.padding[0] - eff_h) / o.stride[0] + 1;
  s.out_w = (s.w + 2 * o.padding[1] - eff_w) / o.stride[1] + 1;
  s.g = {s.c_in / s.groups, s.h,         s.w,          kh,           kw,
         o.stride[0],       o.stride[1], o.padding[0], o.padding[1], o.dilation[0],
         o.dilation[1],     s.out_h,     s.out_w};
  const bool winograd_fits = kh == 3 && kw == 3 && o.stride == std::array<int64_t, 2>{1, 1} &&
                             o.padding == std::array<int64_t, 2>{1, 1} &&
                             o.dilation == std::array<int64_t, 2>{1, 1} && o.groups == 1;
  const bool forced =
      o.algorithm == ConvAlgorithm::winograd_2x2 || o.algorithm == ConvAlgorithm::winograd_4x4;
  check(!forced || winograd_fits, "conv2d",
        "Winograd needs a 3x3 kernel, stride 1, padding 1, dilation 1 and groups 1");
  const bool f4_fits = winograd_f4_fits(s.c_in, s.c_out);
  check(o.algorithm != ConvAlgorithm::winograd_4x4 || f4_fits, "conv2d",
        "Winograd F(4x4) needs channel counts that are multiples of 16, got ", s.c_in, " -> ",
        s.c_out);
  // Few channels (an RGB input) leave the Winograd GEMMs too thin: im2col is faster on the
  // 3 -> 16 stem (measurements in docs/performance.md).
  const bool enough_channels = std::min(s.c_in, s.c_out) >= 8;
  s.winograd =
      winograd_fits && (forced || (o.algorithm == ConvAlgorithm::automatic && enough_channels));
  s.winograd_f4 = s.winograd && f4_fits && o.algorithm != ConvAlgorithm::winograd_2x2 &&
                  (o.algorithm == ConvAlgorithm::winograd_4x4 || std::min(s.h, s.w) >= 4);
  s.direct = kh == 1 && kw == 1 && o.stride[0] == 1 && o.stride[1] == 1 && o.padding[0] == 0 &&
             o.padding[1] == 0;
  const int64_t cols = s.out_h * s.out_w;
  s.block = s.direct ? 1 : std::clamp<int64_t>(kMinGemmColumns / std::max<int64_t>(cols, 1), 1, 16);
  return s;
}

WinogradShape winograd_shape(const ConvPlan& s) {
  return {s.n, s.c_in, s.c_out, s.h, s.w};
}

}  // namespace nl
