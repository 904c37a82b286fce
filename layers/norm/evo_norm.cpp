#include "layers/norm/evo_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "core/parallel.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/group_norm.hpp"
#include "layers/norm/plane_loops.hpp"
#include "layers/norm/plane_stats.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/running_stats.hpp"

// Both layers work on (n, c) planes of L = H*W elements, like the shared norm core, and take
// their statistics from it (compute_moments); the elementwise parts are their own because
// neither is "normalize, then affine". Each backward is derived in docs/norms/evob0.md and
// docs/norms/evos0.md; the comments give the result.

namespace nl {
namespace {

void check_input(const Tensor& x, int64_t c, const char* name) {
  check(x.dim() == 4 && x.shape()[1] == c, name, "expected input (N, ", c, ", H, W), got ",
        shape_str(x.shape()));
}

double sigmoid(double t) {
  return 1.0 / (1.0 + std::exp(-t));
}

}  // namespace

EvoNormB0::EvoNormB0(int64_t c, double eps_, double momentum_)
    : num_features(c), eps(eps_), momentum(momentum_) {
  check(c > 0, "EvoNormB0", "num_features must be positive, got ", c);
  check(eps_ > 0, "EvoNormB0", "eps must be > 0");
  std::tie(weight, bias) = register_affine(*this, c);
  v = register_parameter("v", Tensor::ones({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
}

// y = gamma z + beta,  z = x / den,  den = max(R, L),  R = v x + S_{n,c},  L_c = sqrt(var_B + eps),
// S_{n,c} = sqrt(var_{n,c} + eps). With g = -dy gamma x / den^2 (the gradient reaching den) and
// r = [R >= L] (ties go to R, the side that depends on x elementwise):
//   dx = dy gamma / den + r g v + G_S (x - mu_{n,c}) / (L_hw S) + G_L (x - mu_c) / (M_B L)
// with G_S = sum_{plane} r g, G_L = sum_{channel} (1 - r) g; the last term only in training,
// where L depends on the batch. dv = sum r g x, dgamma = sum dy z, dbeta = sum dy.
Tensor EvoNormB0::forward(const Tensor& x_in) {
  check_input(x_in, num_features, "EvoNormB0");
  const Tensor x = x_in.detach().contiguous();
  const int64_t n = x.shape()[0], c = num_features, l = x.shape()[2] * x.shape()[3];
  const Moments inst = compute_moments(StatLayout::of(x, c, 1, "EvoNormB0"), x);
  std::vector<double> batch_var, batch_mean(c, 0.0);
  if (training_) {
    const int64_t m = n * l;
    check(m > 1, "EvoNormB0", "expected more than 1 value per channel when training, got input ",
          shape_str(x.shape()));
    const Moments batch = compute_moments(StatLayout::of(x, c, 0, "EvoNormB0"), x);
    batch_var = batch.var;
    batch_mean = batch.mean;
    std::vector<double> unbiased = batch_var;
    for (double& u : unbiased) u *= double(m) / double(m - 1);
    update_running(running_var, unbiased, momentum, 0);
  } else {
    batch_var = running_var.to_vector();
  }
  std::vector<double> big_l(c), big_s(n * c);
  for (int64_t ch = 0; ch < c; ++ch) big_l[ch] = std::sqrt(batch_var[ch] + eps);
  for (int64_t p = 0; p < n * c; ++p) big_s[p] = std::sqrt(inst.var[p] + eps);
  const std::vector<double> g = weight.to_vector(), b = bias.to_vector(), vv = v.to_vector();

  const Tensor y = map_planes(x, Tensor(), c, l, [&](int64_t p, int64_t ch) {
    return [&, p, ch](double xi, double) {
      return g[ch] * xi / std::max(vv[ch] * xi + big_s[p], big_l[ch]) + b[ch];
    };
  });

  const bool batch_stats = training_;
  return record(
      y, "EvoNormB0", {x_in, weight, bias, v}, [=, inst_mean = inst.mean](const Tensor& gy) {
        const Tensor dy = gy.contiguous();
        // Pass 1, per plane: sum dy, sum dy z, sum r g x, sum r g (G_S), sum (1 - r) g.
        std::vector<double> s_dy(n * c), s_dyz(n * c), s_rgx(n * c), s_rg(n * c), s_lg(n * c);
        dispatch(x.dtype(), [&]<typename T>() {
          const T *px = x.data<T>(), *pg = dy.data<T>();
          for_each_plane(n * c, c, l, [&](int64_t p, int64_t ch, int64_t begin, int64_t end) {
            double a = 0, bz = 0, rgx = 0, rg = 0, lg = 0;
            for (int64_t i = begin; i < end; ++i) {
              const double xi = double(px[i]), dyi = double(pg[i]);
              const double r = vv[ch] * xi + big_s[p], den = std::max(r, big_l[ch]);
              const double gden = -dyi * g[ch] * xi / (den * den);
              a += dyi;
              bz += dyi * xi / den;
              if (r >= big_l[ch])
                rgx += gden * xi, rg += gden;
              else
                lg += gden;
            }
            s_dy[p] = a, s_dyz[p] = bz, s_rgx[p] = rgx, s_rg[p] = rg, s_lg[p] = lg;
          });
        });
        std::vector<double> dgamma(c, 0.0), dbeta(c, 0.0), dv(c, 0.0), g_l(c, 0.0);
        for (int64_t p = 0; p < n * c; ++p) {
          const int64_t ch = p % c;
          dgamma[ch] += s_dyz[p], dbeta[ch] += s_dy[p], dv[ch] += s_rgx[p], g_l[ch] += s_lg[p];
        }
        // Pass 2: dx.
        const double m_batch = double(n * l);
        const Tensor dx = map_planes(x, dy, c, l, [&](int64_t p, int64_t ch) {
          const double inst_coef = s_rg[p] / (double(l) * big_s[p]);
          const double batch_coef = batch_stats ? g_l[ch] / (m_batch * big_l[ch]) : 0.0;
          return [&, p, ch, inst_coef, batch_coef](double xi, double dyi) {
            const double r = vv[ch] * xi + big_s[p], den = std::max(r, big_l[ch]);
            const double gden = -dyi * g[ch] * xi / (den * den);
            return dyi * g[ch] / den + (r >= big_l[ch] ? gden * vv[ch] : 0.0) +
                   inst_coef * (xi - inst_mean[p]) + batch_coef * (xi - batch_mean[ch]);
          };
        });
        const DType dt = x.dtype();
        return std::vector<Tensor>{dx, Tensor::from_vector(dgamma, {c}, dt),
                                   Tensor::from_vector(dbeta, {c}, dt),
                                   Tensor::from_vector(dv, {c}, dt)};
      });
}

EvoNormS0::EvoNormS0(int64_t c, int64_t g, double eps_) : num_features(c), groups(g), eps(eps_) {
  check(g >= 1 && c % g == 0, "EvoNormS0", "groups=", g, " must divide num_features=", c);
  check(eps_ > 0, "EvoNormS0", "eps must be > 0");
  std::tie(weight, bias) = register_affine(*this, c);
  v = register_parameter("v", Tensor::ones({c}));
}

// y = gamma s u + beta,  u = x sig(v x),  s = 1 / sqrt(var_{n,g} + eps) (var of x, centred).
// With sig' = sig (1 - sig), D_{n,g} = sum_{group} gamma dy u and M = (C/G) L elements per group:
//   dx = dy gamma s (sig + v x sig') - s^3 D (x - mu_{n,g}) / M
//   dv = sum dy gamma s x^2 sig',  dgamma = sum dy s u,  dbeta = sum dy.
Tensor EvoNormS0::forward(const Tensor& x_in) {
  check_input(x_in, num_features, "EvoNormS0");
  const Tensor x = x_in.detach().contiguous();
  const StatLayout layout = StatLayout::of(x, groups, 1, "EvoNormS0");
  const Moments stats = compute_moments(layout, x);
  const int64_t n = layout.n, c = layout.c, l = layout.l, per_group = c / groups;
  std::vector<double> inv_std(layout.num_stats());
  for (size_t k = 0; k < inv_std.size(); ++k) inv_std[k] = 1.0 / std::sqrt(stats.var[k] + eps);
  const std::vector<int64_t> stat = layout.plane_stats();
  const std::vector<double> g = weight.to_vector(), b = bias.to_vector(), vv = v.to_vector();

  const Tensor y = map_planes(x, Tensor(), c, l, [&](int64_t p, int64_t ch) {
    const double scale = g[ch] * inv_std[stat[p]];
    return [&, ch, scale](double xi, double) { return scale * xi * sigmoid(vv[ch] * xi) + b[ch]; };
  });

  return record(y, "EvoNormS0", {x_in, weight, bias, v}, [=, mean = stats.mean](const Tensor& gy) {
    const Tensor dy = gy.contiguous();
    // Pass 1, per plane: sum dy, sum dy u, sum dy x^2 sig'.
    std::vector<double> s_dy(n * c), s_dyu(n * c), s_dyx2(n * c);
    dispatch(x.dtype(), [&]<typename T>() {
      const T *px = x.data<T>(), *pg = dy.data<T>();
      for_each_plane(n * c, c, l, [&](int64_t p, int64_t ch, int64_t begin, int64_t end) {
        double a = 0, bu = 0, cx = 0;
        for (int64_t i = begin; i < end; ++i) {
          const double xi = double(px[i]), dyi = double(pg[i]);
          const double sg = sigmoid(vv[ch] * xi);
          a += dyi;
          bu += dyi * xi * sg;
          cx += dyi * xi * xi * sg * (1 - sg);
        }
        s_dy[p] = a, s_dyu[p] = bu, s_dyx2[p] = cx;
      });
    });
    std::vector<double> d_group(layout.num_stats(), 0.0);
    std::vector<double> dgamma(c, 0.0), dbeta(c, 0.0), dv(c, 0.0);
    for (int64_t p = 0; p < n * c; ++p) {
      const int64_t ch = p % c;
      const double s = inv_std[stat[p]];
      d_group[stat[p]] += g[ch] * s_dyu[p];
      dgamma[ch] += s * s_dyu[p];
      dbeta[ch] += s_dy[p];
      dv[ch] += g[ch] * s * s_dyx2[p];
    }
    // Pass 2: dx.
    const double m = double(per_group * l);
    const Tensor dx = map_planes(x, dy, c, l, [&](int64_t p, int64_t ch) {
      const int64_t k = stat[p];
      const double s = inv_std[k], var_coef = s * s * s * d_group[k] / m;
      return [&, ch, k, s, var_coef](double xi, double dyi) {
        const double sg = sigmoid(vv[ch] * xi);
        return dyi * g[ch] * s * (sg + vv[ch] * xi * sg * (1 - sg)) - var_coef * (xi - mean[k]);
      };
    });
    const DType dt = x.dtype();
    return std::vector<Tensor>{dx, Tensor::from_vector(dgamma, {c}, dt),
                               Tensor::from_vector(dbeta, {c}, dt),
                               Tensor::from_vector(dv, {c}, dt)};
  });
}

NORMLAB_NORM(evob0) {
  return {.name = "evob0",
          .family = NormFamily::batch,
          .summary =
              "EvoNorm-B0: x / max(sqrt(var_B+eps), v x + sqrt(var_HW+eps)); replaces the "
              "activation",
          .options = {NormOption::number("eps", 1e-3, kEps, "added to both variances"),
                      NormOption::number("momentum", 0.1, kUnit,
                                         "running <- (1 - m) running + m batch")},
          .build = [](const NormArgs& a, int64_t c) {
            const double eps = a.number("eps"), momentum = a.number("momentum");
            if (!a.activation_follows) {  // x / sqrt(var_B + eps): Variance Normalization
              BatchNormOptions o{.eps = eps, .momentum = momentum};
              o.math.subtract_mean = false;
              return NormSlot{std::make_shared<BatchNorm>(c, o)};
            }
            return NormSlot{std::make_shared<EvoNormB0>(c, eps, momentum), true};
          }};
}

NORMLAB_NORM(evos0) {
  return {.name = "evos0",
          .family = NormFamily::sample,
          .summary =
              "EvoNorm-S0: x sigmoid(v x) / group std; batch independent; replaces the "
              "activation",
          .options = {NormOption::count("groups", 8, "number of groups G (a count), dividing C"),
                      NormOption::count("group_size", 1, "channels per group S, instead of groups")
                          .without_default(),
                      NormOption::number("eps", 1e-5, kEps, "added to the group variance")},
          .build =
              [](const NormArgs& a, int64_t c) {
                int64_t groups = a.count("groups");
                if (a.given("group_size")) {
                  const int64_t size = a.count("group_size");
                  check(c % size == 0, "EvoNormS0", "group_size=", size, " must divide ", c,
                        " channels");
                  groups = c / size;
                }
                const double eps = a.number("eps");
                if (!a.activation_follows) {  // x / group std (not centred): GN without the mean
                  auto gn = std::make_shared<GroupNorm>(groups, c, eps);
                  gn->math.subtract_mean = false;
                  return NormSlot{gn};
                }
                return NormSlot{std::make_shared<EvoNormS0>(c, groups, eps), true};
              },
          .page = "",
          .example = "evos0:groups=2"};
}

}  // namespace nl
