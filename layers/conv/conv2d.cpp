#include "layers/conv/conv2d.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "autograd/node.hpp"
#include "core/blas.hpp"
#include "core/init.hpp"
#include "core/parallel.hpp"
#include "core/scratch.hpp"
#include "layers/conv/im2col.hpp"
#include "layers/conv/winograd.hpp"

namespace nl {
namespace {

// Columns one GEMM should cover at least. Small late-stage maps (8x8 = 64 columns) are batched
// several images side by side, so OpenBLAS sees N >= 512 instead of 64. The block size depends
// only on the shape, never on the thread count: results stay bit-identical for any --threads.
constexpr int64_t kMinGemmColumns = 512;
// With fewer image blocks than this (small batches), each GEMM is also split over tiles of
// kRowTile output rows so every core gets work. Like the block size, the tiling depends only on
// the shape, so results stay identical for any thread count.
constexpr int64_t kMinBlocksForBatchParallelism = 16;
constexpr int64_t kRowTile = 32;

// C = op(A) B (+ beta C) with op(A) rows split into fixed tiles run as TBB tasks when `tiled`.
template <typename T>
void gemm_rows(bool tiled, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a,
               int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (!tiled || m < 2 * kRowTile) {
    gemm<T>(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int64_t tiles = (m + kRowTile - 1) / kRowTile;
  parallel_for(tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * kRowTile, rows = std::min(kRowTile, m - r0);
      gemm<T>(trans_a, trans_b, rows, n, k, T(1), trans_a ? a + r0 : a + r0 * lda, lda, b, ldb,
              beta, c + r0 * ldc, ldc);
    }
  });
}

struct ConvShape {
  int64_t n, c_in, h, w, c_out, out_h, out_w, groups;
  ConvGeometry g;    // per group
  bool direct;       // 1x1, stride 1, no padding: the image already is the column matrix
  bool winograd;     // 3x3, stride 1, padding 1: Winograd instead of im2col
  bool winograd_f4;  // F(4x4, 3x3) rather than F(2x2, 3x3)
  int64_t block;     // images per GEMM (and per dW partial sum)
};

ConvShape conv_shape(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
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
  ConvShape s;
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

// Pointers into one image block [n0, n0 + nb) for group g.
template <typename T>
struct BlockView {
  const ConvShape& s;
  int64_t rows() const { return s.g.col_rows(); }
  int64_t cols() const { return s.g.col_cols(); }
  int64_t cout_g() const { return s.c_out / s.groups; }
  int64_t image_offset(int64_t n, int64_t g) const {
    return n * s.c_in * s.h * s.w + g * s.g.channels * s.h * s.w;
  }
  int64_t out_offset(int64_t n, int64_t g) const { return (n * s.c_out + g * cout_g()) * cols(); }
};

// Copies the (cout_g x cols) output planes of nb images to/from one (cout_g x nb*cols) matrix.
template <typename T>
void gather_planes(const T* nchw, const BlockView<T>& v, int64_t n0, int64_t nb, int64_t g,
                   T* mat) {
  const int64_t cols = v.cols(), ld = nb * cols;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t c = 0; c < v.cout_g(); ++c)
      std::memcpy(mat + c * ld + b * cols, nchw + v.out_offset(n0 + b, g) + c * cols,
                  cols * sizeof(T));
}
template <typename T>
void scatter_planes(const T* mat, const BlockView<T>& v, int64_t n0, int64_t nb, int64_t g,
                    T* nchw) {
  const int64_t cols = v.cols(), ld = nb * cols;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t c = 0; c < v.cout_g(); ++c)
      std::memcpy(nchw + v.out_offset(n0 + b, g) + c * cols, mat + c * ld + b * cols,
                  cols * sizeof(T));
}

template <typename T>
void add_bias(const ConvShape& s, int64_t n0, int64_t n1, const T* b, T* y) {
  const int64_t cols = s.out_h * s.out_w;
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t c = 0; c < s.c_out; ++c) {
      T* o = y + (n * s.c_out + c) * cols;
      for (int64_t i = 0; i < cols; ++i) o[i] += b[c];
    }
}

template <typename T>
void bias_grad(const ConvShape& s, int64_t n0, int64_t n1, const T* dy, T* db) {
  const int64_t cols = s.out_h * s.out_w;
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t c = 0; c < s.c_out; ++c) {
      const T* d = dy + (n * s.c_out + c) * cols;
      T acc = 0;
      for (int64_t i = 0; i < cols; ++i) acc += d[i];
      db[c] += acc;
    }
}

WinogradShape winograd_shape(const ConvShape& s) {
  return {s.n, s.c_in, s.c_out, s.h, s.w};
}

template <typename T>
void forward_kernel(const ConvShape& s, const T* x, const T* w, const T* b, T* y) {
  if (s.winograd) {
    if (s.winograd_f4)
      winograd_f4_conv3x3(winograd_shape(s), x, w, false, y);
    else
      winograd_conv3x3(winograd_shape(s), x, w, false, y);
    if (b) parallel_for(s.n, 1, [&](int64_t n0, int64_t n1) { add_bias(s, n0, n1, b, y); });
    return;
  }
  const BlockView<T> v{s};
  const int64_t rows = v.rows(), cols = v.cols(), cout_g = v.cout_g();
  const int64_t blocks = (s.n + s.block - 1) / s.block;
  // Few blocks: walk them serially and parallelise inside each GEMM instead. (Never both: a
  // thread waiting on inner tiles could pick up another block and overwrite its scratch.)
  const bool tiled = blocks < kMinBlocksForBatchParallelism;
  auto body = [&](int64_t b0, int64_t b1) {
    T* col = thread_scratch<T, Scratch::gemm_operand>(rows * cols * s.block);
    T* out = thread_scratch<T, Scratch::gemm_result>(cout_g * cols * s.block);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * s.block, nb = std::min(s.block, s.n - n0), ld = nb * cols;
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* wg = w + g * cout_g * rows;
        if (s.direct) {  // nb == 1: the image is the column matrix, the output its plane block
          gemm_rows<T>(tiled, false, false, cout_g, cols, rows, wg, rows, x + v.image_offset(n0, g),
                       cols, T(0), y + v.out_offset(n0, g), cols);
          continue;
        }
        for (int64_t i = 0; i < nb; ++i)
          im2col(x + v.image_offset(n0 + i, g), s.g, col + i * cols, ld);
        if (nb == 1) {
          gemm_rows<T>(tiled, false, false, cout_g, cols, rows, wg, rows, col, ld, T(0),
                       y + v.out_offset(n0, g), cols);
        } else {
          gemm_rows<T>(tiled, false, false, cout_g, ld, rows, wg, rows, col, ld, T(0), out, ld);
          scatter_planes(out, v, n0, nb, g, y);
        }
      }
      if (b) add_bias(s, n0, n0 + nb, b, y);
    }
  };
  if (tiled)
    body(0, blocks);
  else
    parallel_for(blocks, 1, body);
}

// dx, and per-block partial dW and db (summed afterwards in block order).
template <typename T>
void backward_kernel(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                     bool need_dx, bool need_dw, bool need_db) {
  if (s.winograd) {
    // The input gradient is the convolution of dy with the flipped filters.
    const WinogradShape flipped{s.n, s.c_out, s.c_in, s.h, s.w};
    if (need_dx && s.winograd_f4) winograd_f4_conv3x3(flipped, dy, w, true, dx);
    if (need_dx && !s.winograd_f4) winograd_conv3x3(flipped, dy, w, true, dx);
    if (need_dw && s.winograd_f4) winograd_f4_weight_grad(winograd_shape(s), x, dy, dw);
    if (need_dw && !s.winograd_f4) winograd_conv3x3_weight_grad(winograd_shape(s), x, dy, dw);
    if (need_db) std::fill(db, db + s.c_out, T(0)), bias_grad(s, 0, s.n, dy, db);
    return;
  }
  const BlockView<T> v{s};
  const int64_t rows = v.rows(), cols = v.cols(), cout_g = v.cout_g();
  const int64_t w_numel = s.c_out * rows;
  const int64_t blocks = (s.n + s.block - 1) / s.block;
  std::vector<T> dw_part(need_dw ? blocks * w_numel : 0, T(0));
  std::vector<T> db_part(need_db ? blocks * s.c_out : 0, T(0));
  const bool tiled = blocks < kMinBlocksForBatchParallelism;  // see forward_kernel
  auto body = [&](int64_t b0, int64_t b1) {
    T* col = thread_scratch<T, Scratch::gemm_operand>(rows * cols * s.block);
    T* dcol = thread_scratch<T, Scratch::gemm_operand_grad>(rows * cols * s.block);
    T* dyb = thread_scratch<T, Scratch::gemm_result>(cout_g * cols * s.block);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * s.block, nb = std::min(s.block, s.n - n0), ld = nb * cols;
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* wg = w + g * cout_g * rows;
        const T* dyg = dy + v.out_offset(n0, g);
        if (nb > 1) gather_planes(dy, v, n0, nb, g, dyb), dyg = dyb;
        if (need_dw) {
          const T* colp = x + v.image_offset(n0, g);
          if (!s.direct) {
            for (int64_t i = 0; i < nb; ++i)
              im2col(x + v.image_offset(n0 + i, g), s.g, col + i * cols, ld);
            colp = col;
          }
          gemm_rows<T>(tiled, false, true, cout_g, rows, ld, dyg, ld, colp, ld, T(1),
                       dw_part.data() + blk * w_numel + g * cout_g * rows, rows);
        }
        if (need_dx) {
          if (s.direct) {
            gemm_rows<T>(tiled, true, false, rows, cols, cout_g, wg, rows, dyg, cols, T(0),
                         dx + v.image_offset(n0, g), cols);
            continue;
          }
          gemm_rows<T>(tiled, true, false, rows, ld, cout_g, wg, rows, dyg, ld, T(0), dcol, ld);
          for (int64_t i = 0; i < nb; ++i) {
            T* img = dx + v.image_offset(n0 + i, g);
            std::memset(img, 0, s.g.channels * s.h * s.w * sizeof(T));
            col2im_add(dcol + i * cols, s.g, img, ld);
          }
        }
      }
      if (need_db) bias_grad(s, n0, n0 + nb, dy, db_part.data() + blk * s.c_out);
    }
  };
  if (tiled)
    body(0, blocks);
  else
    parallel_for(blocks, 1, body);
  for (int64_t blk = 0; blk < blocks; ++blk) {
    for (int64_t i = 0; need_dw && i < w_numel; ++i)
      dw[i] = (blk ? dw[i] : T(0)) + dw_part[blk * w_numel + i];
    for (int64_t c = 0; need_db && c < s.c_out; ++c)
      db[c] = (blk ? db[c] : T(0)) + db_part[blk * s.c_out + c];
  }
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
              const Conv2dOptions& opt) {
  const ConvShape s = conv_shape(x_in, w_in, b_in, opt);
  const Tensor x = x_in.detach().contiguous(), w = w_in.detach().contiguous();
  const Tensor b = b_in.defined() ? b_in.detach().contiguous() : Tensor();
  Tensor y = Tensor::empty({s.n, s.c_out, s.out_h, s.out_w}, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    forward_kernel<T>(s, x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr,
                      y.data<T>());
  });
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

Tensor conv2d_weight_grad(const Tensor& x_in, const Tensor& dy_in, const Shape& weight_shape,
                          const Conv2dOptions& opt) {
  const Tensor shape_only = Tensor::empty(weight_shape, x_in.dtype());
  const ConvShape s = conv_shape(x_in, shape_only, Tensor(), opt);
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
