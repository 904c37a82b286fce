// What a convolution does to its output planes right after writing them, while they are still
// in cache (the "epilogue" of inference engines):
//
//     y[n, c] = act( conv(x)[n, c] + bias[c] + residual[n, c] ),   act = ReLU or identity
//
// The bias is every convolution's; the residual and the ReLU come from conv_then_norm's fused
// inference path (layers/conv/fold.hpp), which would otherwise run them as two more passes over
// the whole output (a residual block's join, the ReLU after the first convolution). The
// additions run in that order, as the separate ops do, so fused and unfused outputs agree to
// the bit.
#pragma once
#include <cstdint>

namespace nl {

template <typename T>
struct ConvEpilogue {
  const T* bias = nullptr;      // (C_out), or none
  const T* residual = nullptr;  // (N, C_out, OH, OW) like the output, or none
  bool relu = false;
  int64_t channels = 0, plane = 0;  // C_out and OH * OW

  bool empty() const { return !bias && !residual && !relu; }

  // The planes of image n, channels [c0, c1), of the output y.
  void apply(T* y, int64_t n, int64_t c0, int64_t c1) const {
    if (empty()) return;
    // One loop per combination, each without branches, so that each vectorises.
    switch ((bias ? 1 : 0) | (residual ? 2 : 0) | (relu ? 4 : 0)) {
      case 1:
        return planes<true, false, false>(y, n, c0, c1);
      case 2:
        return planes<false, true, false>(y, n, c0, c1);
      case 3:
        return planes<true, true, false>(y, n, c0, c1);
      case 4:
        return planes<false, false, true>(y, n, c0, c1);
      case 5:
        return planes<true, false, true>(y, n, c0, c1);
      case 6:
        return planes<false, true, true>(y, n, c0, c1);
      default:
        return planes<true, true, true>(y, n, c0, c1);
    }
  }

 private:
  template <bool kBias, bool kResidual, bool kRelu>
  void planes(T* y, int64_t n, int64_t c0, int64_t c1) const {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t offset = (n * channels + c) * plane;
      T* __restrict out = y + offset;
      const T* __restrict res = kResidual ? residual + offset : nullptr;
      const T b = kBias ? bias[c] : T(0);
      for (int64_t i = 0; i < plane; ++i) {
        T v = out[i];
        if constexpr (kBias) v += b;
        if constexpr (kResidual) v += res[i];
        if constexpr (kRelu) v = v > T(0) ? v : T(0);
        out[i] = v;
      }
    }
  }
};

}  // namespace nl
