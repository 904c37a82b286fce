// Loops over the (n, c) planes of an (N, C, L) tensor, for the normalizers whose elementwise
// math is their own (EvoNorm, Lp BatchNorm) and for the shared kernels' task sizes: one place
// for the parallel split, beside the statistics core (plane_stats.hpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.hpp"
#include "core/tensor.hpp"
#include "layers/norm/plane_stats.hpp"

namespace nl {

// Items per parallel task when each item holds `elements` values: about 16K elements a task,
// enough to amortise the scheduling of small items (the planes of an 8x8 map).
inline int64_t grain_for(int64_t elements) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(elements, 1));
}

// Calls f(p, channel, begin, end) for every plane p of an (N, C, L) tensor with C = c; its
// elements are [begin, end). Planes in parallel.
template <typename F>
void for_each_plane(int64_t planes, int64_t c, int64_t l, F f) {
  parallel_for(planes, grain_for(l), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) f(p, p % c, p * l, (p + 1) * l);
  });
}

// out[i] = plane(p, ch)(x_i, dy_i) for every element i of plane p (channel ch); dy may be
// undefined (0 is passed). plane() runs once per plane, so per-plane coefficients are computed
// there, not per element.
template <typename Plane>
Tensor map_planes(const Tensor& x, const Tensor& dy, int64_t c, int64_t l, Plane plane) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    const T* pg = dy.defined() ? dy.data<T>() : nullptr;
    T* po = out.data<T>();
    for_each_plane(x.numel() / l, c, l, [&](int64_t p, int64_t ch, int64_t begin, int64_t end) {
      const auto element = plane(p, ch);
      for (int64_t i = begin; i < end; ++i)
        po[i] = T(element(double(px[i]), pg ? double(pg[i]) : 0.0));
    });
  });
  return out;
}

// Per channel of the layout: the sum (or, with take_max, the max) over its N*L elements of
// f(x - centre[c]). Channels in parallel.
template <typename F>
std::vector<double> reduce_channels(const StatLayout& s, const Tensor& x,
                                    const std::vector<double>& centre, bool take_max, F f) {
  std::vector<double> out(s.c, 0.0);
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    parallel_for(s.c, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        double acc = 0;
        for (int64_t n = 0; n < s.n; ++n) {
          const T* row = px + (n * s.c + c) * s.l;
          for (int64_t i = 0; i < s.l; ++i) {
            const double v = f(double(row[i]) - centre[c]);
            acc = take_max ? std::max(acc, v) : acc + v;
          }
        }
        out[c] = acc;
      }
    });
  });
  return out;
}

}  // namespace nl
