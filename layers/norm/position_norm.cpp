#include "layers/norm/position_norm.hpp"

#include <algorithm>
#include <memory>

#include "autograd/node.hpp"
#include "core/parallel.hpp"
#include "core/simd.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_loops.hpp"

namespace nl {
namespace {

// Positions per work item: each of the item's C rows is a contiguous run of this many values,
// and its per-position accumulators fit in a few KiB of stack.
constexpr int64_t kBlock = 128;

// The map as work items (sample n, block of positions [l0, l0 + len)), and what the forward
// keeps for the backward: the input and, per position, the mean and 1/sqrt(v + eps).
struct PositionNormState {
  int64_t n = 0, c = 0, l = 0, blocks = 0;
  double eps = 0;
  NormMath math;
  std::vector<double> g, b;           // gamma, beta per channel
  std::vector<double> mean, inv_std;  // per position, N*L
  double c_mean() const { return math.subtract_mean ? 1.0 : 0.0; }
  double c_var() const { return math.center_variance ? 1.0 : 0.0; }
  int64_t items() const { return n * blocks; }
  // Offset of item i's first value in the (N, C, L) tensor, its first position, its length.
  int64_t offset(int64_t i) const { return (i / blocks) * c * l + (i % blocks) * kBlock; }
  int64_t first(int64_t i) const { return (i / blocks) * l + (i % blocks) * kBlock; }
  int64_t length(int64_t i) const { return std::min(kBlock, l - (i % blocks) * kBlock); }
};

// One item of the forward: two passes over the C rows for mu and v (in double), one for y.
// Every loop runs over the item's positions, elementwise, so it vectorises and each position's
// sums are taken in channel order on every instruction set.
template <typename T>
[[gnu::always_inline]] inline void forward_item_impl(PositionNormState& st, int64_t i,
                                                     const T* x_all, T* y_all) {
  const T* x = x_all + st.offset(i);
  T* y = y_all + st.offset(i);
  const int64_t len = st.length(i), l = st.l;
  double mu[kBlock] = {}, v[kBlock] = {}, s[kBlock];
  for (int64_t ch = 0; ch < st.c; ++ch)
    for (int64_t j = 0; j < len; ++j) mu[j] += double(x[ch * l + j]);
  for (int64_t j = 0; j < len; ++j) mu[j] /= double(st.c);
  const double cv = st.c_var(), cm = st.c_mean();
  for (int64_t ch = 0; ch < st.c; ++ch)
    for (int64_t j = 0; j < len; ++j) {
      const double d = double(x[ch * l + j]) - cv * mu[j];
      v[j] += d * d;
    }
  for (int64_t j = 0; j < len; ++j) s[j] = inverse_std(v[j] / double(st.c), st.eps, st.math);
  for (int64_t ch = 0; ch < st.c; ++ch) {
    const double g = st.g[ch], b = st.b[ch];
    for (int64_t j = 0; j < len; ++j)
      y[ch * l + j] = T(g * s[j] * (double(x[ch * l + j]) - cm * mu[j]) + b);
  }
  std::copy(mu, mu + len, st.mean.begin() + st.first(i));
  std::copy(s, s + len, st.inv_std.begin() + st.first(i));
}

// One item of the backward: one pass for A and E per position, one for dx, and the item's
// share of dgamma and dbeta (dg, db: C values each) as fixed-lane sums (simd::reduce_sum).
template <typename T>
[[gnu::always_inline]] inline void backward_item_impl(const PositionNormState& st, int64_t i,
                                                      const T* x_all, const T* dy_all, T* dx_all,
                                                      double* dg, double* db) {
  const int64_t o = st.offset(i), len = st.length(i), l = st.l;
  const T *x = x_all + o, *dy = dy_all + o;
  T* dx = dx_all + o;
  const double* mu = st.mean.data() + st.first(i);
  const double* s = st.inv_std.data() + st.first(i);
  const double cm = st.c_mean(), cv = st.c_var(), m = double(st.c);
  double big_a[kBlock] = {}, big_e[kBlock] = {}, bx[kBlock], k[kBlock], xc[kBlock];
  for (int64_t ch = 0; ch < st.c; ++ch) {
    const double g = st.g[ch];
    for (int64_t j = 0; j < len; ++j) {
      const double gd = g * double(dy[ch * l + j]);
      big_a[j] += gd;
      big_e[j] += gd * (double(x[ch * l + j]) - cm * mu[j]);
    }
  }
  for (int64_t j = 0; j < len; ++j) {
    const double s3 = st.math.divide_std ? s[j] * s[j] * s[j] : 0.0, e = big_e[j] / m;
    bx[j] = -s3 * e;
    k[j] = -cm * s[j] * big_a[j] / m + cv * mu[j] * s3 * e;
  }
  for (int64_t ch = 0; ch < st.c; ++ch) {
    const double g = st.g[ch];
    const T* xr = x + ch * l;
    const T* dyr = dy + ch * l;
    for (int64_t j = 0; j < len; ++j) {
      const double xv = double(xr[j]);
      dx[ch * l + j] = T(s[j] * g * double(dyr[j]) + bx[j] * xv + k[j]);
      xc[j] = s[j] * (xv - cm * mu[j]);  // xhat
    }
    dg[ch] = simd::reduce_sum(
        len, [&](int64_t j) { return simd::load8(dyr + j) * simd::load8(xc + j); },
        [&](int64_t j) { return double(dyr[j]) * xc[j]; });
    db[ch] = simd::reduce_sum(
        len, [&](int64_t j) { return simd::load8(dyr + j); },
        [&](int64_t j) { return double(dyr[j]); });
  }
}

// Each kernel compiled for AVX-512, AVX2 and baseline x86-64 (core/simd.hpp); this file is
// built with -ffp-contract=off, so every copy gives the same bits.
NL_VECTOR_CLONES void forward_item(PositionNormState& st, int64_t i, const float* x, float* y) {
  forward_item_impl(st, i, x, y);
}
NL_VECTOR_CLONES void forward_item(PositionNormState& st, int64_t i, const double* x, double* y) {
  forward_item_impl(st, i, x, y);
}
NL_VECTOR_CLONES void backward_item(const PositionNormState& st, int64_t i, const float* x,
                                    const float* dy, float* dx, double* dg, double* db) {
  backward_item_impl(st, i, x, dy, dx, dg, db);
}
NL_VECTOR_CLONES void backward_item(const PositionNormState& st, int64_t i, const double* x,
                                    const double* dy, double* dx, double* dg, double* db) {
  backward_item_impl(st, i, x, dy, dx, dg, db);
}

}  // namespace

Tensor position_norm(const Tensor& x_in, const Tensor& gamma, const Tensor& beta, double eps,
                     const char* name, NormMath math) {
  check(x_in.dim() >= 2, name, "expected input (N, C, ...), got ", shape_str(x_in.shape()));
  const int64_t n = x_in.shape()[0], c = x_in.shape()[1];
  for (const Tensor* p : {&gamma, &beta})
    if (p->defined()) {
      check(p->dim() == 1 && p->shape()[0] == c, name, "affine parameter of shape ",
            shape_str(p->shape()), " does not match ", c, " channels");
      check(p->dtype() == x_in.dtype(), name, "input is ", x_in.str(), " but parameters are ",
            p->str());
    }
  const Tensor x = x_in.detach().contiguous();
  auto st = std::make_shared<PositionNormState>();
  st->n = n;
  st->c = c;
  st->l = n * c > 0 ? x.numel() / (n * c) : 0;
  st->blocks = (st->l + kBlock - 1) / kBlock;
  st->eps = eps;
  st->math = math;
  st->g = affine_values(gamma, c, 1.0);
  st->b = affine_values(beta, c, 0.0);
  st->mean.resize(n * st->l);
  st->inv_std.resize(n * st->l);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    parallel_for(st->items(), grain_for(kBlock * c), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) forward_item(*st, i, x.data<T>(), y.data<T>());
    });
  });
  return record(y, name, {x_in, gamma, beta}, [=](const Tensor& gy) {
    const Tensor dy = gy.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    // Each item writes its own share of dgamma and dbeta; they are summed in item order below,
    // so the result does not depend on the thread count.
    std::vector<double> dg_items(st->items() * c), db_items(st->items() * c);
    dispatch(x.dtype(), [&]<typename T>() {
      parallel_for(st->items(), grain_for(kBlock * c), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          backward_item(*st, i, x.data<T>(), dy.data<T>(), dx.data<T>(), &dg_items[i * c],
                        &db_items[i * c]);
      });
    });
    std::vector<double> dgamma(c, 0.0), dbeta(c, 0.0);
    for (int64_t i = 0; i < st->items(); ++i)
      for (int64_t ch = 0; ch < c; ++ch) {
        dgamma[ch] += dg_items[i * c + ch];
        dbeta[ch] += db_items[i * c + ch];
      }
    const DType dt = x.dtype();
    return std::vector<Tensor>{dx,
                               gamma.defined() ? Tensor::from_vector(dgamma, {c}, dt) : Tensor(),
                               beta.defined() ? Tensor::from_vector(dbeta, {c}, dt) : Tensor()};
  });
}

}  // namespace nl
