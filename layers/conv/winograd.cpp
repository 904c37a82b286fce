#include "layers/conv/winograd.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/blas.hpp"
#include "core/parallel.hpp"
#include "core/scratch.hpp"
#include "core/simd.hpp"
#include "layers/conv/winograd_driver.hpp"

namespace nl {
namespace {

using winograd::BlockSchedule;
using winograd::position_products;
using winograd::position_stride;

constexpr int64_t kPositions = 16;  // the 4x4 Winograd-domain tile

// The 1-D pieces of the three transforms; the 2-D ones apply them to rows, then to columns.
// B^T d:  (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
template <typename T>
inline void bt4(T a0, T a1, T a2, T a3, T* o) {
  o[0] = a0 - a2, o[1] = a1 + a2, o[2] = a2 - a1, o[3] = a1 - a3;
}
// A^T m:  (m0 + m1 + m2, m1 - m2 - m3)
template <typename T>
inline void at4(T m0, T m1, T m2, T m3, T* o) {
  o[0] = m0 + m1 + m2, o[1] = m1 - m2 - m3;
}
// G g:  (g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2)
template <typename T>
inline void g3(T g0, T g1, T g2, T* o) {
  o[0] = g0, o[1] = T(0.5) * (g0 + g1 + g2), o[2] = T(0.5) * (g0 - g1 + g2), o[3] = g2;
}
// G^T u, the adjoint of g3:  (u0 + (u1 + u2)/2, (u1 - u2)/2, (u1 + u2)/2 + u3)
template <typename T>
inline void gt4(T u0, T u1, T u2, T u3, T* o) {
  o[0] = u0 + T(0.5) * (u1 + u2), o[1] = T(0.5) * (u1 - u2), o[2] = T(0.5) * (u1 + u2) + u3;
}
// A y, the adjoint of at4:  (y0, y0 + y1, y0 - y1, -y1)
template <typename T>
inline void a2(T y0, T y1, T* o) {
  o[0] = y0, o[1] = y0 + y1, o[2] = y0 - y1, o[3] = -y1;
}

struct Plan {
  WinogradShape s;
  int64_t tiles_h, tiles_w, tiles;  // output tiles per image
  BlockSchedule blocks;
  int64_t plane() const { return s.height * s.width; }
  int64_t padded_h() const { return 2 * tiles_h + 2; }  // one zero row above, >= one below
};

Plan make_plan(const WinogradShape& s) {
  Plan p{s, (s.height + 1) / 2, (s.width + 1) / 2, 0, {}};
  p.tiles = p.tiles_h * p.tiles_w;
  p.blocks = BlockSchedule(s.n, p.tiles);
  return p;
}

// U[xi][o][i] = (G g G^T)[xi] for filter g = w[o][i] (or rot180(w[i][o]) with flip_transpose).
template <typename T>
void filter_transform(const Plan& p, const T* w, bool flip_transpose, T* u) {
  const int64_t outs = p.s.out_channels, ins = p.s.in_channels;
  parallel_for(outs * ins, 64, [&](int64_t f0, int64_t f1) {
    for (int64_t f = f0; f < f1; ++f) {
      const int64_t o = f / ins, i = f % ins;
      T g[9];
      if (flip_transpose) {
        const T* src = w + (i * outs + o) * 9;
        for (int k = 0; k < 9; ++k) g[k] = src[8 - k];
      } else {
        std::memcpy(g, w + (o * ins + i) * 9, sizeof g);
      }
      T rows[4][3], cols[4];
      for (int c = 0; c < 3; ++c) {
        T r[4];
        g3(g[c], g[3 + c], g[6 + c], r);
        for (int k = 0; k < 4; ++k) rows[k][c] = r[k];
      }
      for (int r = 0; r < 4; ++r) {
        g3(rows[r][0], rows[r][1], rows[r][2], cols);
        for (int c = 0; c < 4; ++c) u[(r * 4 + c) * outs * ins + f] = cols[c];
      }
    }
  });
}

// Copies one H x W plane, zero-padded by `pad` above and left (and with zeros up to the tile grid
// below and right), split into its even and odd columns: even[r][k] = padded[r][2k],
// odd[r][k] = padded[r][2k + 1]. A tile starting at column 2 tx then reads even[tx], odd[tx],
// even[tx + 1], odd[tx + 1]: unit stride in tx, so the tile loops below vectorise.
template <typename T>
[[gnu::always_inline]] inline void split_padded_plane(const Plan& p, const T* plane, int64_t pad,
                                                      T* even, T* odd) {
  const int64_t half = p.tiles_w + 1, w = p.s.width, pairs = w / 2, odd_width = w % 2;
  // Entries [0, e_end) of `even` and [0, o_end) of `odd` come from the row, the rest are zero.
  const int64_t e_end = pad ? pairs + 1 : pairs + odd_width,
                o_end = pad ? pairs + odd_width : pairs;
  for (int64_t r = 0; r < p.padded_h(); ++r) {
    T* e = even + r * half;
    T* o = odd + r * half;
    const int64_t y = r - pad;
    if (y < 0 || y >= p.s.height) {
      std::fill(e, e + half, T(0));
      std::fill(o, o + half, T(0));
      continue;
    }
    const T* src = plane + y * w;
    if (pad) {  // padded column 2k is x = 2k - 1: odd x go to even[k + 1], even x to odd[k]
      e[0] = T(0);
      simd::deinterleave(src, pairs, o, e + 1);
      if (odd_width) o[pairs] = src[w - 1];
    } else {
      simd::deinterleave(src, pairs, e, o);
      if (odd_width) e[pairs] = src[w - 1];
    }
    std::fill(e + e_end, e + half, T(0));
    std::fill(o + o_end, o + half, T(0));
  }
}

// V[xi][t] = (B^T d B)[xi] for every tile t of one plane; V positions are `stride` apart.
template <typename T>
[[gnu::always_inline]] inline void input_transform(const Plan& p, const T* plane, T* v,
                                                   int64_t stride, T* even, T* odd) {
  split_padded_plane(p, plane, 1, even, odd);
  const int64_t half = p.tiles_w + 1, tw = p.tiles_w;
  for (int64_t ty = 0; ty < p.tiles_h; ++ty) {
    T* __restrict out = v + ty * tw;
    const T* __restrict e0 = even + 2 * ty * half;
    const T* __restrict o0 = odd + 2 * ty * half;
#pragma GCC ivdep
    for (int64_t tx = 0; tx < tw; ++tx) {
      T db[4][4], col[4];
      for (int i = 0; i < 4; ++i)  // d B, row by row
        bt4(e0[i * half + tx], o0[i * half + tx], e0[i * half + tx + 1], o0[i * half + tx + 1],
            db[i]);
      for (int j = 0; j < 4; ++j) {  // then B^T (d B), column by column
        bt4(db[0][j], db[1][j], db[2][j], db[3][j], col);
        for (int i = 0; i < 4; ++i) out[(i * 4 + j) * stride + tx] = col[i];
      }
    }
  }
}

// Z[xi][t] = (A dY A^T)[xi] for every 2x2 tile of one output-gradient plane.
// (The same walk as input_transform with A in place of B^T: the two transforms share their loop
// shape, not their arithmetic, and each is a vectorised hot loop of its own.)
template <typename T>
[[gnu::always_inline]] inline void output_grad_transform(const Plan& p, const T* plane, T* z,
                                                         int64_t stride, T* even, T* odd) {
  split_padded_plane(p, plane, 0, even, odd);
  const int64_t half = p.tiles_w + 1, tw = p.tiles_w;
  for (int64_t ty = 0; ty < p.tiles_h; ++ty) {
    T* __restrict out = z + ty * tw;
    const T* __restrict e0 = even + 2 * ty * half;
    const T* __restrict o0 = odd + 2 * ty * half;
#pragma GCC ivdep
    for (int64_t tx = 0; tx < tw; ++tx) {
      T ya[2][4], col[4];
      a2(e0[tx], o0[tx], ya[0]);  // dY A^T, row by row
      a2(e0[half + tx], o0[half + tx], ya[1]);
      for (int j = 0; j < 4; ++j) {  // then A (dY A^T), column by column
        a2(ya[0][j], ya[1][j], col);
        for (int i = 0; i < 4; ++i) out[(i * 4 + j) * stride + tx] = col[i];
      }
    }
  }
}

// One output plane from M[xi][t]: Y = A^T m A per tile, cropped to H x W. A tile row gives the
// even and odd output columns of two output rows, interleaved on the way out.
template <typename T>
[[gnu::always_inline]] inline void output_transform(const Plan& p, const T* m, int64_t stride,
                                                    T* plane, T* rows) {
  const int64_t tw = p.tiles_w, w = p.s.width;
  T* __restrict e0 = rows;  // output row 2 ty: even, odd columns; then row 2 ty + 1
  T* __restrict o0 = rows + tw;
  T* __restrict e1 = rows + 2 * tw;
  T* __restrict o1 = rows + 3 * tw;
  T* __restrict pair = rows + 4 * tw;
  for (int64_t ty = 0; ty < p.tiles_h; ++ty) {
    const T* __restrict in = m + ty * tw;
#pragma GCC ivdep
    for (int64_t tx = 0; tx < tw; ++tx) {
      T am[2][4], r[2];
      for (int j = 0; j < 4; ++j) {  // A^T m, column by column
        at4(in[j * stride + tx], in[(4 + j) * stride + tx], in[(8 + j) * stride + tx],
            in[(12 + j) * stride + tx], r);
        am[0][j] = r[0], am[1][j] = r[1];
      }
      at4(am[0][0], am[0][1], am[0][2], am[0][3], r);  // then (A^T m) A, row by row
      e0[tx] = r[0], o0[tx] = r[1];
      at4(am[1][0], am[1][1], am[1][2], am[1][3], r);
      e1[tx] = r[0], o1[tx] = r[1];
    }
    for (int64_t r = 0; r < 2 && 2 * ty + r < p.s.height; ++r) {
      const T* e = r ? e1 : e0;
      const T* o = r ? o1 : o0;
      // Even widths interleave straight into the plane; odd ones through `pair`, then cropped.
      T* __restrict dst = w == 2 * tw ? plane + (2 * ty + r) * w : pair;
      for (int64_t tx = 0; tx < tw; ++tx) dst[2 * tx] = e[tx], dst[2 * tx + 1] = o[tx];
      if (dst == pair) std::memcpy(plane + (2 * ty + r) * w, pair, w * sizeof(T));
    }
  }
}

// The per-plane transforms for float and double, each compiled for AVX-512, AVX2 and baseline
// x86-64 (NL_VECTOR_CLONES). Only additions and halvings: every clone gives the same bits.
#define NL_WINOGRAD_PLANE_KERNELS(T)                                                               \
  NL_VECTOR_CLONES void input_transform_plane(const Plan& p, const T* plane, T* v, int64_t stride, \
                                              T* even, T* odd) {                                   \
    input_transform(p, plane, v, stride, even, odd);                                               \
  }                                                                                                \
  NL_VECTOR_CLONES void output_grad_transform_plane(const Plan& p, const T* plane, T* z,           \
                                                    int64_t stride, T* even, T* odd) {             \
    output_grad_transform(p, plane, z, stride, even, odd);                                         \
  }                                                                                                \
  NL_VECTOR_CLONES void output_transform_plane(const Plan& p, const T* m, int64_t stride,          \
                                               T* plane, T* rows) {                                \
    output_transform(p, m, stride, plane, rows);                                                   \
  }
NL_WINOGRAD_PLANE_KERNELS(float)
NL_WINOGRAD_PLANE_KERNELS(double)
#undef NL_WINOGRAD_PLANE_KERNELS

// V for the images [n0, n0 + nb) of x: [xi][channel][image tile], matrices position_stride apart,
// `cols` = nb * tiles. With dy_side, Z = A dY A^T of the output gradient instead.
template <typename T>
void input_transform_block(const Plan& p, const T* x, int64_t channels, int64_t n0, int64_t nb,
                           bool parallel, bool dy_side, T* v, int64_t stride) {
  const int64_t cols = nb * p.tiles;
  for_range(parallel, channels * nb, [&](int64_t j0, int64_t j1) {
    const int64_t half = p.padded_h() * (p.tiles_w + 1);
    T* even = thread_scratch<T, Scratch::tile_transform>(2 * half);
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t c = j / nb, b = j % nb;
      const T* plane = x + ((n0 + b) * channels + c) * p.plane();
      T* dst = v + c * cols + b * p.tiles;
      if (dy_side)
        output_grad_transform_plane(p, plane, dst, stride, even, even + half);
      else
        input_transform_plane(p, plane, dst, stride, even, even + half);
    }
  });
}

// F(2x2)'s side of the driver's Tile contract (winograd_driver.hpp). Channel-major layout:
//   V[xi] (C_in x tiles), M[xi] = U[xi] V[xi] (C_out x tiles), dU[xi] += Z[xi] V[xi]^T.
struct Tile2x2 {
  static constexpr int64_t kPositions = 16;
  using Plan = nl::Plan;
  static Plan make_plan(const WinogradShape& s) { return nl::make_plan(s); }

  template <typename T>
  static std::vector<T> filter_transform(const Plan& p, const T* w, bool flip_transpose) {
    std::vector<T> u(kPositions * p.s.out_channels * p.s.in_channels);
    nl::filter_transform(p, w, flip_transpose, u.data());
    return u;
  }
  template <typename T>
  static void transform_in(const Plan& p, const T* x, int64_t channels, int64_t n0, int64_t nb,
                           bool parallel, bool dy_side, T* out, int64_t stride) {
    input_transform_block(p, x, channels, n0, nb, parallel, dy_side, out, stride);
  }
  template <typename T>
  static void products(bool parallel, const Plan& p, const T* u, const T* v, int64_t v_stride, T* m,
                       int64_t m_stride, int64_t cols) {
    const int64_t ins = p.s.in_channels, outs = p.s.out_channels;
    position_products<T>(parallel, kPositions, false, false, outs, cols, ins, u, outs * ins, ins, v,
                         v_stride, cols, T(0), m, m_stride, cols);
  }
  template <typename T>
  static void weight_products(bool parallel, const Plan& p, const T* z, int64_t z_stride,
                              const T* v, int64_t v_stride, T* du, int64_t cols) {
    const int64_t ins = p.s.in_channels, outs = p.s.out_channels;
    position_products<T>(parallel, kPositions, false, true, outs, ins, cols, z, z_stride, cols, v,
                         v_stride, cols, T(1), du, outs * ins, ins);
  }
  // One output plane per (image, output channel) of the block.
  template <typename T>
  static void transform_out(const Plan& p, const T* m, int64_t m_stride, int64_t n0, int64_t nb,
                            bool parallel, T* y, const ConvEpilogue<T>& epilogue) {
    const int64_t outs = p.s.out_channels, cols = nb * p.tiles;
    for_range(parallel, outs * nb, [&](int64_t j0, int64_t j1) {
      T* rows = thread_scratch<T, Scratch::tile_rows>(6 * p.tiles_w);
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t o = j / nb, b = j % nb;
        output_transform_plane(p, m + o * cols + b * p.tiles, m_stride,
                               y + ((n0 + b) * outs + o) * p.plane(), rows);
        epilogue.apply(y, n0 + b, o, o + 1);
      }
    });
  }
  // dw = G^T dU G per filter.
  template <typename T>
  static void filter_grad(const Plan& p, const std::vector<T>& du, T* dw) {
    const int64_t ins = p.s.in_channels, outs = p.s.out_channels;
    parallel_for(outs * ins, 64, [&](int64_t f0, int64_t f1) {
      for (int64_t f = f0; f < f1; ++f) {
        T rows[3][4], out[3];
        for (int c = 0; c < 4; ++c) {
          T r[3];
          gt4(du[c * outs * ins + f], du[(4 + c) * outs * ins + f], du[(8 + c) * outs * ins + f],
              du[(12 + c) * outs * ins + f], r);
          for (int k = 0; k < 3; ++k) rows[k][c] = r[k];
        }
        for (int r = 0; r < 3; ++r) {
          gt4(rows[r][0], rows[r][1], rows[r][2], rows[r][3], out);
          for (int c = 0; c < 3; ++c) dw[f * 9 + r * 3 + c] = out[c];
        }
      }
    });
  }
};

}  // namespace

// The entry points of winograd.hpp: the driver on this tile size (winograd_f4.cpp has the same
// pair, and the same explicit instantiations, for Tile4x4).
template <typename T>
void winograd_conv3x3(const WinogradShape& s, const T* x, const T* w, bool flip_transpose, T* y,
                      const ConvEpilogue<T>& epilogue) {
  winograd::conv3x3<Tile2x2>(s, x, w, flip_transpose, y, epilogue);
}

template <typename T>
void winograd_conv3x3_weight_grad(const WinogradShape& s, const T* x, const T* dy, T* dw) {
  winograd::weight_grad<Tile2x2>(s, x, dy, dw);
}

template void winograd_conv3x3<float>(const WinogradShape&, const float*, const float*, bool,
                                      float*, const ConvEpilogue<float>&);
template void winograd_conv3x3<double>(const WinogradShape&, const double*, const double*, bool,
                                       double*, const ConvEpilogue<double>&);
template void winograd_conv3x3_weight_grad<float>(const WinogradShape&, const float*, const float*,
                                                  float*);
template void winograd_conv3x3_weight_grad<double>(const WinogradShape&, const double*,
                                                   const double*, double*);

}  // namespace nl
