// Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and padding 1 (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016), the shape of 18 of ResNet-20's 21
// convolutions. A 2x2 output tile Y comes from a 4x4 input tile d and a 3x3 filter g as
//
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A          (.) = elementwise product of 4x4 matrices
//
//   B^T = | 1  0 -1  0 |     G = | 1    0    0   |     A^T = | 1  1  1  0 |
//         | 0  1  1  0 |         | 1/2  1/2  1/2 |           | 0  1 -1 -1 |
//         | 0 -1  1  0 |         | 1/2 -1/2  1/2 |
//         | 0  1  0 -1 |         | 0    0    1   |
//
// 16 multiplications per tile and channel pair instead of 36 (2.25x fewer). Summed over input
// channels, each of the 16 positions xi of the 4x4 tile is one matrix product
//   M[xi] (C_out x tiles) = U[xi] (C_out x C_in) @ V[xi] (C_in x tiles),
// with U = G g G^T per filter and V = B^T d B per input tile: 16 OpenBLAS GEMMs replace
// im2col's 9x-expanded column matrix, and the input is only expanded 4x.
//
// The backward passes stay in the Winograd domain:
//  - dL/dx is itself a 3x3, stride-1, padding-1 convolution of dL/dy with each filter rotated by
//    180 degrees and the channel roles swapped (`flip_transpose`);
//  - dL/dg is the adjoint of the three linear maps: dU[xi] = sum over tiles of
//    (A dY A^T)[xi] V[xi], i.e. dU[xi] (C_out x C_in) = Z[xi] @ V[xi]^T with Z = A dY A^T, and
//    then dL/dg = G^T dU G.
// All coefficients are 0, +-1 and +-1/2, so the float error stays within a few ulps of im2col's.
#pragma once
#include <cstdint>

#include "layers/conv/conv_epilogue.hpp"

namespace nl {

struct WinogradShape {
  int64_t n, in_channels, out_channels, height, width;
};

// y (N, out, H, W) = conv3x3(x (N, in, H, W)), stride 1, padding 1. The filter w is
// (out, in, 3, 3); with flip_transpose it is (in, out, 3, 3) and used rotated by 180 degrees
// (the input gradient of the forward convolution whose weight w is). The epilogue (bias,
// residual, ReLU; conv_epilogue.hpp) runs on each output plane as soon as it is written.
template <typename T>
void winograd_conv3x3(const WinogradShape& s, const T* x, const T* w, bool flip_transpose, T* y,
                      const ConvEpilogue<T>& epilogue = {});

// dw (out, in, 3, 3) = dL/dw of y = conv3x3(x, w) given dy = dL/dy (N, out, H, W).
template <typename T>
void winograd_conv3x3_weight_grad(const WinogradShape& s, const T* x, const T* dy, T* dw);

// The same two operations with F(4x4, 3x3) (winograd_f4.cpp): 2.25 multiplications per output
// instead of 4, vectorised over channels; needs channel counts that are multiples of 16.
bool winograd_f4_fits(int64_t in_channels, int64_t out_channels);
template <typename T>
void winograd_f4_conv3x3(const WinogradShape& s, const T* x, const T* w, bool flip_transpose, T* y,
                         const ConvEpilogue<T>& epilogue = {});
template <typename T>
void winograd_f4_weight_grad(const WinogradShape& s, const T* x, const T* dy, T* dw);

}  // namespace nl
