#include "layers/conv/im2col.hpp"

#include <algorithm>
#include <cstring>

namespace nl {
namespace {

// Output columns ox in [lo, hi) read an in-bounds input column for kernel offset `k`.
inline void valid_range(int64_t k_off, int64_t stride, int64_t size, int64_t out, int64_t& lo,
                        int64_t& hi) {
  // need 0 <= ox*stride + k_off < size
  lo = k_off >= 0 ? 0 : (-k_off + stride - 1) / stride;
  hi = size - k_off <= 0 ? 0 : (size - k_off + stride - 1) / stride;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
}

}  // namespace

// im2col and col2im_add walk the same valid ranges in opposite directions (read a pixel /
// add onto it). They stay two loops on purpose: these are the hot kernels, and sharing the walk
// through a callback costs speed here; reference/conv2d_reference.cpp shares it, for reading.
template <typename T>
void im2col(const T* image, const ConvGeometry& g, T* col, int64_t ld) {
  for (int64_t c = 0; c < g.channels; ++c) {
    const T* plane = image + c * g.height * g.width;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t x_off = j * g.dil_w - g.pad_w;
        int64_t lo, hi;
        valid_range(x_off, g.stride_w, g.width, g.out_w, lo, hi);
        for (int64_t oy = 0; oy < g.out_h; ++oy) {
          T* dst = col + oy * g.out_w;
          const int64_t y = oy * g.stride_h - g.pad_h + i * g.dil_h;
          if (y < 0 || y >= g.height) {
            std::memset(dst, 0, g.out_w * sizeof(T));
            continue;
          }
          const T* src = plane + y * g.width;  // input column of ox: ox*stride + x_off
          std::fill(dst, dst + lo, T(0));
          if (g.stride_w == 1) {
            if (hi > lo) std::memcpy(dst + lo, src + lo + x_off, (hi - lo) * sizeof(T));
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = src[ox * g.stride_w + x_off];
          }
          std::fill(dst + hi, dst + g.out_w, T(0));
        }
        col += ld;
      }
    }
  }
}

template <typename T>
void col2im_add(const T* col, const ConvGeometry& g, T* image, int64_t ld) {
  for (int64_t c = 0; c < g.channels; ++c) {
    T* plane = image + c * g.height * g.width;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t x_off = j * g.dil_w - g.pad_w;
        int64_t lo, hi;
        valid_range(x_off, g.stride_w, g.width, g.out_w, lo, hi);
        for (int64_t oy = 0; oy < g.out_h; ++oy) {
          const int64_t y = oy * g.stride_h - g.pad_h + i * g.dil_h;
          if (y < 0 || y >= g.height) continue;
          const T* src = col + oy * g.out_w;
          T* dst = plane + y * g.width;
          for (int64_t ox = lo; ox < hi; ++ox) dst[ox * g.stride_w + x_off] += src[ox];
        }
        col += ld;
      }
    }
  }
}

template void im2col<float>(const float*, const ConvGeometry&, float*, int64_t);
template void im2col<double>(const double*, const ConvGeometry&, double*, int64_t);
template void col2im_add<float>(const float*, const ConvGeometry&, float*, int64_t);
template void col2im_add<double>(const double*, const ConvGeometry&, double*, int64_t);

}  // namespace nl
