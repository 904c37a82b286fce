// Winograd F(4x4, 3x3), vectorised over channels: the fast path for 3x3, stride-1, padding-1
// convolutions whose channel counts are multiples of 16 (all but the first convolution of a CIFAR
// ResNet). The math is winograd_f4_tile.hpp's; the adjoints for the backward passes are those of
// winograd.hpp's F(2x2) (docs/conv2d.md).
//
// Layout. Each image block's planes are copied, 16 channels at a time, into a zero-padded
// channels-last buffer, so a tile's pixel is one vector of 16 channels and every transform runs
// on whole vectors whatever the map size (8x8 maps have only 2x2 tiles: vectorising over tiles
// would leave most lanes empty). The Winograd-domain matrices are tile-major,
// V[xi] = (tiles x C_in), M[xi] = (tiles x C_out), so the transforms read and write contiguous
// channel vectors and the products (core/small_gemm.hpp) read transposed operands in place:
//   forward  M[xi] = V[xi] U[xi]^T           (tiles x C_out; U stored as U^T)
//   weight   dU[xi] += Z[xi]^T V[xi]          (C_out x C_in), Z = A dY A^T
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/blas.hpp"
#include "core/parallel.hpp"
#include "core/scratch.hpp"
#include "core/simd.hpp"
#include "core/small_gemm.hpp"
#include "layers/conv/winograd.hpp"
#include "layers/conv/winograd_driver.hpp"
#include "layers/conv/winograd_f4_tile.hpp"

namespace nl {
namespace {

using winograd::apply_2d;
using winograd::BlockSchedule;
using winograd::F4x3;
using winograd::for_each_position;
using winograd::position_stride;

constexpr int kGroup = 16;                 // channels per vector
constexpr int kA = F4x3::a, kM = F4x3::m;  // 6x6 input tiles, 4x4 output tiles
constexpr int64_t kPositions = kA * kA;

template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  using type = float __attribute__((vector_size(64)));
};
template <>
struct VecOf<double> {
  using type = double __attribute__((vector_size(128)));
};

template <typename V>
[[gnu::always_inline]] inline V load(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
[[gnu::always_inline]] inline void store(void* p, V v) {
  std::memcpy(p, &v, sizeof v);
}

struct Plan {
  WinogradShape s;
  int64_t tiles_h, tiles_w, tiles;  // output tiles per image
  int64_t padded_h, padded_w;       // the zero-padded channels-last buffer
  BlockSchedule blocks;
  int64_t plane() const { return s.height * s.width; }
};

Plan make_plan(const WinogradShape& s) {
  Plan p;
  p.s = s;
  p.tiles_h = (s.height + kM - 1) / kM, p.tiles_w = (s.width + kM - 1) / kM;
  p.tiles = p.tiles_h * p.tiles_w;
  p.padded_h = kM * p.tiles_h + 2, p.padded_w = kM * p.tiles_w + 2;
  p.blocks = BlockSchedule(s.n, p.tiles);
  return p;
}

// buf[(y + pad) * padded_w + x + pad][c] = planes[c][y][x] for 16 planes `plane_stride` apart;
// zero elsewhere. For float, 16 pixels at a time go through an in-register 16 x 16 transpose
// (the plane is walked as one flat run of pixels, so narrow maps fill the vectors too).
template <typename T>
[[gnu::always_inline]] inline void to_channels_last(const Plan& p, const T* planes,
                                                    int64_t plane_stride, int64_t pad, T* buf) {
  const int64_t h = p.s.height, w = p.s.width, pw = p.padded_w;
  for (int64_t r = 0; r < p.padded_h; ++r) {  // the zero border
    T* row = buf + r * pw * kGroup;
    const int64_t y = r - pad;
    if (y < 0 || y >= h) {
      std::fill(row, row + pw * kGroup, T(0));
      continue;
    }
    std::fill(row, row + pad * kGroup, T(0));
    std::fill(row + (w + pad) * kGroup, row + pw * kGroup, T(0));
  }
  auto dst = [&](int64_t pixel) {
    return buf + ((pixel / w + pad) * pw + pixel % w + pad) * kGroup;
  };
  int64_t p0 = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; p0 + 16 <= h * w; p0 += 16) {
      simd::f32x16 v[16];
      for (int c = 0; c < kGroup; ++c) v[c] = simd::load16(planes + c * plane_stride + p0);
      simd::transpose16(v);
      for (int k = 0; k < 16; ++k) store(dst(p0 + k), v[k]);
    }
  }
  for (; p0 < h * w; ++p0)
    for (int c = 0; c < kGroup; ++c) dst(p0)[c] = planes[c * plane_stride + p0];
}

// The inverse for output tiles: planes[c][y][x] = buf[y * (4 tiles_w) + x][c], cropped to H x W.
template <typename T>
[[gnu::always_inline]] inline void from_channels_last(const Plan& p, const T* buf, T* planes,
                                                      int64_t plane_stride) {
  const int64_t h = p.s.height, w = p.s.width, bw = kM * p.tiles_w;
  auto src = [&](int64_t pixel) { return buf + ((pixel / w) * bw + pixel % w) * kGroup; };
  int64_t p0 = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; p0 + 16 <= h * w; p0 += 16) {
      simd::f32x16 v[16];
      for (int k = 0; k < 16; ++k) v[k] = simd::load16(src(p0 + k));
      simd::transpose16(v);
      for (int c = 0; c < kGroup; ++c) store(planes + c * plane_stride + p0, v[c]);
    }
  }
  for (; p0 < h * w; ++p0)
    for (int c = 0; c < kGroup; ++c) planes[c * plane_stride + p0] = src(p0)[c];
}

// Transforms the 16 channels starting at `planes` of one image into V (x side, padding 1:
// B^T d B) or Z (dy side, no padding: A dY A^T). Column `col` of tile row t of each matrix.
template <typename T>
[[gnu::always_inline]] inline void tiles_in(const Plan& p, const T* planes, int64_t plane_stride,
                                            bool dy_side, T* buf, T* out, int64_t row0, int64_t ld,
                                            int64_t stride) {
  using V = typename VecOf<T>::type;
  to_channels_last(p, planes, plane_stride, dy_side ? 0 : 1, buf);
  const int64_t pw = p.padded_w;
  for (int64_t ty = 0; ty < p.tiles_h; ++ty)
    for (int64_t tx = 0; tx < p.tiles_w; ++tx) {
      const T* base = buf + (kM * ty * pw + kM * tx) * kGroup;
      V t[kA][kA];
      if (dy_side) {
        V y[kM][kM];
        for (int i = 0; i < kM; ++i)
          for (int c = 0; c < kM; ++c) y[i][c] = load<V>(base + (i * pw + c) * kGroup);
        apply_2d<kM, kA>([](const V* i, V* o) { F4x3::output_adj(i, o); }, y, t);
      } else {
        V d[kA][kA];
        for (int i = 0; i < kA; ++i)
          for (int c = 0; c < kA; ++c) d[i][c] = load<V>(base + (i * pw + c) * kGroup);
        apply_2d<kA, kA>([](const V* i, V* o) { F4x3::data(i, o); }, d, t);
      }
      T* dst = out + (row0 + ty * p.tiles_w + tx) * ld;
      for (int xi = 0; xi < kPositions; ++xi) store(dst + xi * stride, t[xi / kA][xi % kA]);
    }
}

// Output tiles Y = A^T x A of 16 output channels of one image, from M rows [row0, row0 + tiles).
template <typename T>
[[gnu::always_inline]] inline void tiles_out(const Plan& p, const T* m, int64_t row0, int64_t ld,
                                             int64_t stride, T* buf, T* planes,
                                             int64_t plane_stride) {
  using V = typename VecOf<T>::type;
  const int64_t bw = kM * p.tiles_w;
  for (int64_t ty = 0; ty < p.tiles_h; ++ty)
    for (int64_t tx = 0; tx < p.tiles_w; ++tx) {
      const T* src = m + (row0 + ty * p.tiles_w + tx) * ld;
      V x[kA][kA], y[kM][kM];
      for (int xi = 0; xi < kPositions; ++xi) x[xi / kA][xi % kA] = load<V>(src + xi * stride);
      apply_2d<kA, kM>([](const V* i, V* o) { F4x3::output(i, o); }, x, y);
      for (int r = 0; r < kM; ++r)
        for (int q = 0; q < kM; ++q)
          store(buf + ((kM * ty + r) * bw + kM * tx + q) * kGroup, y[r][q]);
    }
  from_channels_last(p, buf, planes, plane_stride);
}

// Kernels compiled for AVX-512, AVX2 and baseline x86-64; -ffp-contract=off keeps their bits
// identical.
#define NL_WINOGRAD_F4_KERNELS(T)                                                               \
  NL_VECTOR_CLONES void tiles_in_kernel(const Plan& p, const T* planes, int64_t plane_stride,   \
                                        bool dy_side, T* buf, T* out, int64_t row0, int64_t ld, \
                                        int64_t stride) {                                       \
    tiles_in(p, planes, plane_stride, dy_side, buf, out, row0, ld, stride);                     \
  }                                                                                             \
  NL_VECTOR_CLONES void tiles_out_kernel(const Plan& p, const T* m, int64_t row0, int64_t ld,   \
                                         int64_t stride, T* buf, T* planes,                     \
                                         int64_t plane_stride) {                                \
    tiles_out(p, m, row0, ld, stride, buf, planes, plane_stride);                               \
  }
NL_WINOGRAD_F4_KERNELS(float)
NL_WINOGRAD_F4_KERNELS(double)
#undef NL_WINOGRAD_F4_KERNELS

// V (or Z) of the block's images [n0, n0 + nb): [xi][image tile][channel], `stride` apart.
template <typename T>
void transform_in_block(const Plan& p, const T* x, int64_t channels, int64_t n0, int64_t nb,
                        bool parallel, bool dy_side, T* out, int64_t stride) {
  const int64_t groups = channels / kGroup;
  for_range(parallel, nb * groups, [&](int64_t j0, int64_t j1) {
    T* buf = thread_scratch<T, Scratch::tile_transform>(p.padded_h * p.padded_w * kGroup);
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t b = j / groups, g = j % groups;
      tiles_in_kernel(p, x + ((n0 + b) * channels + g * kGroup) * p.plane(), p.plane(), dy_side,
                      buf, out + g * kGroup, b * p.tiles, channels, stride);
    }
  });
}

template <typename T>
void transform_out_block(const Plan& p, const T* m, int64_t stride, int64_t n0, int64_t nb,
                         bool parallel, T* y, const ConvEpilogue<T>& epilogue) {
  const int64_t outs = p.s.out_channels, groups = outs / kGroup;
  for_range(parallel, nb * groups, [&](int64_t j0, int64_t j1) {
    T* buf = thread_scratch<T, Scratch::tile_rows>(kM * p.tiles_h * kM * p.tiles_w * kGroup);
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t b = j / groups, g = j % groups;
      tiles_out_kernel(p, m + g * kGroup, b * p.tiles, outs, stride, buf,
                       y + ((n0 + b) * outs + g * kGroup) * p.plane(), p.plane());
      epilogue.apply(y, n0 + b, g * kGroup, (g + 1) * kGroup);
    }
  });
}

// The filters are transformed 16 at a time, one per vector lane: the 16 filters [f0, f0 + 16)
// share their input channel i and have the output channels o0..o0+15 (16 divides C_out), so the
// group's 36 entries of U^T are 36 contiguous runs of 16, and the divisions by 6, 12 and 24 of G
// run once per group. The lanes do exactly what the scalar transform would, so the bits are the
// same on every target. U is stored transposed, (C_in x C_out) per position: small_gemm's B.
//   U^T[xi][i][o] = (G g G^T)[xi], g = w[o][i] or rot180(w[i][o]) with flip_transpose.
template <typename T>
[[gnu::always_inline]] inline void filter_group_in(const T* w, int64_t outs, int64_t ins,
                                                   bool flip_transpose, int64_t f0, T* ut) {
  using V = typename VecOf<T>::type;
  const int64_t i = f0 / outs, o0 = f0 % outs;
  V g[3][3], t[kA][kA];
  for (int k = 0; k < 9; ++k)
    for (int j = 0; j < kGroup; ++j)
      g[k / 3][k % 3][j] =
          flip_transpose ? w[(i * outs + o0 + j) * 9 + 8 - k] : w[((o0 + j) * ins + i) * 9 + k];
  apply_2d<3, kA>([](const V* i, V* o) { F4x3::filter(i, o); }, g, t);
  for (int xi = 0; xi < kPositions; ++xi) store(ut + xi * outs * ins + f0, t[xi / kA][xi % kA]);
}

//   dw[o][i] = G^T dU[.][o][i] G for the 16 filters [f0, f0 + 16), the adjoint of the above.
template <typename T>
[[gnu::always_inline]] inline void filter_group_grad(const T* du, int64_t filters, int64_t f0,
                                                     T* dw) {
  using V = typename VecOf<T>::type;
  V t[kA][kA], g[3][3];
  for (int xi = 0; xi < kPositions; ++xi) t[xi / kA][xi % kA] = load<V>(du + xi * filters + f0);
  apply_2d<kA, 3>([](const V* i, V* o) { F4x3::filter_adj(i, o); }, t, g);
  for (int k = 0; k < 9; ++k)
    for (int j = 0; j < kGroup; ++j) dw[(f0 + j) * 9 + k] = g[k / 3][k % 3][j];
}

#define NL_WINOGRAD_F4_FILTER_KERNELS(T)                                                         \
  NL_VECTOR_CLONES void filter_in_kernel(const T* w, int64_t outs, int64_t ins, bool flip,       \
                                         int64_t group0, int64_t group1, T* u) {                 \
    for (int64_t q = group0; q < group1; ++q) filter_group_in(w, outs, ins, flip, kGroup* q, u); \
  }                                                                                              \
  NL_VECTOR_CLONES void filter_grad_kernel(const T* du, int64_t filters, int64_t group0,         \
                                           int64_t group1, T* dw) {                              \
    for (int64_t q = group0; q < group1; ++q) filter_group_grad(du, filters, kGroup* q, dw);     \
  }
NL_WINOGRAD_F4_FILTER_KERNELS(float)
NL_WINOGRAD_F4_FILTER_KERNELS(double)
#undef NL_WINOGRAD_F4_FILTER_KERNELS

template <typename T>
std::vector<T> filter_transform(const WinogradShape& s, const T* w, bool flip_transpose) {
  const int64_t outs = s.out_channels, ins = s.in_channels;
  std::vector<T> u(kPositions * outs * ins);
  parallel_for(outs * ins / kGroup, 4, [&](int64_t q0, int64_t q1) {
    filter_in_kernel(w, outs, ins, flip_transpose, q0, q1, u.data());
  });
  return u;
}

// F(4x4)'s side of the driver's Tile contract (winograd_driver.hpp). Tile-major layout with
// 16-channel vectors: V[xi] (tiles x C_in), M[xi] = V[xi] U[xi]^T (tiles x C_out),
// dU[xi] += Z[xi]^T V[xi], all three products in small_gemm (U kept as U^T for it).
struct Tile4x4 {
  static constexpr int64_t kPositions = nl::kPositions;
  using Plan = nl::Plan;
  static Plan make_plan(const WinogradShape& s) { return nl::make_plan(s); }

  template <typename T>
  static std::vector<T> filter_transform(const Plan& p, const T* w, bool flip_transpose) {
    return nl::filter_transform(p.s, w, flip_transpose);
  }
  template <typename T>
  static void transform_in(const Plan& p, const T* x, int64_t channels, int64_t n0, int64_t nb,
                           bool parallel, bool dy_side, T* out, int64_t stride) {
    transform_in_block(p, x, channels, n0, nb, parallel, dy_side, out, stride);
  }
  template <typename T>
  static void products(bool parallel, const Plan& p, const T* ut, const T* v, int64_t v_stride,
                       T* m, int64_t m_stride, int64_t rows) {
    const int64_t ins = p.s.in_channels, outs = p.s.out_channels;
    for_each_position(parallel, kPositions, [&](int64_t xi) {
      small_gemm<T>(rows, outs, ins, v + xi * v_stride, ins, 1, ut + xi * outs * ins, outs,
                    m + xi * m_stride, outs, false);
    });
  }
  template <typename T>
  static void weight_products(bool parallel, const Plan& p, const T* z, int64_t z_stride,
                              const T* v, int64_t v_stride, T* du, int64_t rows) {
    const int64_t ins = p.s.in_channels, outs = p.s.out_channels;
    for_each_position(parallel, kPositions, [&](int64_t xi) {  // Z^T: A(o, t) = z[t * outs + o]
      small_gemm<T>(outs, ins, rows, z + xi * z_stride, 1, outs, v + xi * v_stride, ins,
                    du + xi * outs * ins, ins, true);
    });
  }
  template <typename T>
  static void transform_out(const Plan& p, const T* m, int64_t m_stride, int64_t n0, int64_t nb,
                            bool parallel, T* y, const ConvEpilogue<T>& epilogue) {
    transform_out_block(p, m, m_stride, n0, nb, parallel, y, epilogue);
  }
  // dw = G^T dU G per filter.
  template <typename T>
  static void filter_grad(const Plan& p, const std::vector<T>& du, T* dw) {
    const int64_t filters = p.s.in_channels * p.s.out_channels;
    parallel_for(filters / kGroup, 4, [&](int64_t q0, int64_t q1) {
      filter_grad_kernel(du.data(), filters, q0, q1, dw);
    });
  }
};

}  // namespace

bool winograd_f4_fits(int64_t in_channels, int64_t out_channels) {
  return in_channels % kGroup == 0 && out_channels % kGroup == 0;
}

template <typename T>
void winograd_f4_conv3x3(const WinogradShape& s, const T* x, const T* w, bool flip_transpose, T* y,
                         const ConvEpilogue<T>& epilogue) {
  winograd::conv3x3<Tile4x4>(s, x, w, flip_transpose, y, epilogue);
}

template <typename T>
void winograd_f4_weight_grad(const WinogradShape& s, const T* x, const T* dy, T* dw) {
  winograd::weight_grad<Tile4x4>(s, x, dy, dw);
}

template void winograd_f4_conv3x3<float>(const WinogradShape&, const float*, const float*, bool,
                                         float*, const ConvEpilogue<float>&);
template void winograd_f4_conv3x3<double>(const WinogradShape&, const double*, const double*, bool,
                                          double*, const ConvEpilogue<double>&);
template void winograd_f4_weight_grad<float>(const WinogradShape&, const float*, const float*,
                                             float*);
template void winograd_f4_weight_grad<double>(const WinogradShape&, const double*, const double*,
                                              double*);

}  // namespace nl
