// Convolution as im2col + GEMM (docs/conv2d.md), the path for every shape Winograd does not take:
// per block of images and group, the column matrix is built in per-thread scratch and one GEMM
// computes the block (forward), or two (dW and the column gradient, then col2im) in backward.
// The readable version of the same algorithm is layers/conv/reference/conv2d_reference.cpp.
#pragma once
#include "layers/conv/conv_epilogue.hpp"
#include "layers/conv/conv_plan.hpp"

namespace nl {

// y = epilogue(conv(x, w)), NCHW, for the plan's shape: the epilogue (bias, residual, ReLU;
// conv_epilogue.hpp) runs on each block of images after its GEMM.
template <typename T>
void im2col_conv_forward(const ConvPlan& s, const T* x, const T* w, T* y,
                         const ConvEpilogue<T>& epilogue);

// dx, dW and db (each only when asked), from dy; dW and db are summed per block of images in
// block order, so the sums do not depend on the thread count.
template <typename T>
void im2col_conv_backward(const ConvPlan& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                          T* db, bool need_dx, bool need_dw, bool need_db);

// The bias gradient of every algorithm: db += sum of dy over images [n0, n1) and positions (the
// forward's bias is part of the epilogue).
template <typename T>
void add_conv_bias_grad(const ConvPlan& s, int64_t n0, int64_t n1, const T* dy, T* db);

}  // namespace nl
