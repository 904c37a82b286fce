// The per-plane affine op: y[n, c, :] = scale[n, c] x[n, c, :] + shift[c].
//
// For layers that modulate an already normalized map per sample or per group, where the
// normalize-and-affine core's per-channel gamma does not fit: Instance-Enhancement BN's gate
// (scale = gamma_c a_{n,c}) and Batch-Channel Norm's per-group affine (scale = w_{g(c)}).
// scale is (N, C) or (C); shift is (C) or undefined. Hand-derived backward, one pass for the
// sums and one for dx, on the shared plane kernels:
//   dx = scale dy,   dscale[n, c] = sum_l dy x   (summed over n for a (C) scale),
//   dshift_c = sum_{n,l} dy.
#pragma once
#include "core/tensor.hpp"

namespace nl {

Tensor plane_affine(const Tensor& x, const Tensor& scale, const Tensor& shift, const char* name);

}  // namespace nl
