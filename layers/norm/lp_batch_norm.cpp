#include "layers/norm/lp_batch_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "core/parallel.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_loops.hpp"
#include "layers/norm/plane_stats.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {
namespace {

double sign(double u) {
  return double(u > 0) - double(u < 0);
}

// |u|^p, and its derivative's |u|^(p-1) sign(u), without std::pow for the common p = 1 and
// p = 2 (a per-element pow dominated the layer's time); the same values, since pow is exact
// there.
double abs_pow(double u, double p) {
  return p == 1 ? std::abs(u) : p == 2 ? u * u : std::pow(std::abs(u), p);
}
double abs_pow_derivative(double u, double p) {
  return p == 1 ? sign(u) : p == 2 ? u : std::pow(std::abs(u), p - 1) * sign(u);
}

}  // namespace

LpBatchNorm::LpBatchNorm(int64_t c, LpBatchNormOptions o) : num_features(c), options(o) {
  check(c > 0, "LpBatchNorm", "num_features must be positive, got ", c);
  check(o.p >= 1, "LpBatchNorm", "p must be >= 1 (or inf), got ", o.p);
  check(o.eps > 0, "LpBatchNorm", "eps must be > 0");
  std::tie(weight, bias) = register_affine(*this, c, o.affine);
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_scale = register_buffer("running_scale", Tensor::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}));
}

Tensor LpBatchNorm::forward(const Tensor& x_in) {
  const char* name = "LpBatchNorm";
  check(x_in.dim() >= 2 && x_in.shape()[1] == num_features, name, "expected ", num_features,
        " channels, got input ", shape_str(x_in.shape()));
  const StatLayout s = StatLayout::of(x_in, num_features, 0, name);
  const Tensor x = x_in.detach().contiguous();
  const std::vector<double> gamma = affine_values(weight, s.c, 1.0);
  const std::vector<double> beta = affine_values(bias, s.c, 0.0);
  const double p = options.p, m = double(s.count());
  const bool infinite = std::isinf(p);

  std::vector<double> mean, scale(s.c), max_dev(s.c, 0.0);
  if (training_) {
    check(s.count() > 1, name, "expected more than 1 value per channel when training, got input ",
          shape_str(x_in.shape()));
    mean = compute_moments(s, x).mean;
    const std::vector<double> dev = reduce_channels(s, x, mean, infinite, [p, infinite](double u) {
      return infinite ? std::abs(u) : abs_pow(u, p);
    });
    if (infinite) max_dev = dev;
    for (int64_t c = 0; c < s.c; ++c)
      scale[c] = infinite ? dev[c] + options.eps : std::pow(dev[c] / m + options.eps, 1 / p);
    const double tracked = num_batches_tracked.item() + 1;
    num_batches_tracked.fill_(tracked);
    update_running(running_mean, mean, options.momentum, tracked);
    update_running(running_scale, scale, options.momentum, tracked);
  } else {
    mean = running_mean.to_vector();
    scale = running_scale.to_vector();
  }

  // y = (gamma / s) x + (beta - mu gamma / s): one multiply-add per element.
  const int64_t planes = s.n * s.c;
  std::vector<double> a(planes), zero(planes, 0.0), k(planes);
  for (int64_t q = 0; q < planes; ++q) {
    const int64_t c = q % s.c;
    a[q] = gamma[c] / scale[c];
    k[q] = beta[c] - mean[c] * a[q];
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  apply_planes(s, x, Tensor(), a, zero, k, y);

  const bool batch_stats = training_, has_weight = weight.defined(), has_bias = bias.defined();
  return record(y, name, {x_in, weight, bias}, [=](const Tensor& gy) {
    const Tensor dy = gy.contiguous();
    const PlaneGradSums sums = plane_grad_sums(s, x, dy, mean);
    std::vector<double> sum_dy(s.c, 0.0), sum_dy_xc(s.c, 0.0);
    for (int64_t q = 0; q < planes; ++q) {
      sum_dy[q % s.c] += sums.sum_dy[q];
      sum_dy_xc[q % s.c] += sums.sum_dy_xc[q];
    }
    std::vector<double> da(planes), db(planes, 0.0), dk(planes, 0.0);
    Tensor phi;
    if (batch_stats) {
      // phi(xc) elementwise, and its sum per channel. For p = inf it marks the (first) arg max.
      phi = Tensor::empty(x.shape(), x.dtype());
      std::vector<double> phi_sum(s.c, 0.0);
      dispatch(x.dtype(), [&]<typename T>() {
        const T* px = x.data<T>();
        T* pp = phi.data<T>();
        parallel_for(s.c, 1, [&](int64_t c0, int64_t c1) {  // channels are independent
          for (int64_t c = c0; c < c1; ++c) {
            bool marked = false;
            for (int64_t n = 0; n < s.n; ++n)
              for (int64_t i = 0; i < s.l; ++i) {
                const int64_t at = (n * s.c + c) * s.l + i;
                const double u = double(px[at]) - mean[c];
                double v;
                if (infinite) {
                  v = !marked && std::abs(u) == max_dev[c] ? sign(u) : 0.0;
                  marked = marked || v != 0;
                } else {
                  v = abs_pow_derivative(u, p);
                }
                pp[at] = T(v);
                phi_sum[c] += v;
              }
          }
        });
      });
      for (int64_t q = 0; q < planes; ++q) {
        const int64_t c = q % s.c;
        const double sc = scale[c];
        const double big_k =
            gamma[c] * sum_dy_xc[c] / (infinite ? sc * sc : m * std::pow(sc, p + 1));
        da[q] = gamma[c] / sc;
        db[q] = -big_k;
        dk[q] = -gamma[c] * sum_dy[c] / (m * sc) + big_k * phi_sum[c] / m;
      }
    } else {
      for (int64_t q = 0; q < planes; ++q) da[q] = gamma[q % s.c] / scale[q % s.c];
    }
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    apply_planes(s, dy, phi, da, db, dk, dx);
    std::vector<double> dgamma(s.c);
    for (int64_t c = 0; c < s.c; ++c) dgamma[c] = sum_dy_xc[c] / scale[c];
    const DType dt = x.dtype();
    return std::vector<Tensor>{dx, has_weight ? Tensor::from_vector(dgamma, {s.c}, dt) : Tensor(),
                               has_bias ? Tensor::from_vector(sum_dy, {s.c}, dt) : Tensor()};
  });
}

NORMLAB_NORM(lpbn) {
  const LpBatchNormOptions d;
  return {.name = "lpbn",
          .family = NormFamily::batch,
          .summary =
              "Lp BatchNorm: BatchNorm scaled by the average Lp deviation (p = 2 is "
              "BatchNorm)",
          .options = {NormOption::number("p", d.p, Range{1, kInfinity, false, true},
                                         "the norm of the deviation", {"inf"}),
                      NormOption::number("eps", d.eps, kEps, "added to the scale"),
                      NormOption::number("momentum", d.momentum, kUnit,
                                         "running <- (1 - m) running + m batch"),
                      NormOption::flag("affine", d.affine, "learned per-channel gamma and beta")},
          .build = [](const NormArgs& a, int64_t c) {
            LpBatchNormOptions o;
            o.p = a.word("p") == "inf" ? kInfinity : a.number("p");
            o.eps = a.number("eps");
            o.momentum = a.number("momentum");
            o.affine = a.flag("affine");
            return NormSlot{std::make_shared<LpBatchNorm>(c, o)};
          }};
}

}  // namespace nl
