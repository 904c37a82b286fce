#include "layers/norm/proxy_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/parallel.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/group_norm.hpp"
#include "layers/norm/registry.hpp"

namespace nl {
namespace {

// The proxy of one channel: t_i = (1 + gamma') u_i + beta', p_i = gamma t_i + beta,
// P_i = relu(p_i), and the moments of P (biased variance), in double.
struct Proxy {
  double mean = 0, var = 0;
};

Proxy proxy_moments(const std::vector<double>& u, double gamma, double beta, double proxy_gamma,
                    double proxy_beta) {
  Proxy p;
  const double n = double(u.size());
  for (double ui : u) p.mean += std::max(0.0, gamma * ((1 + proxy_gamma) * ui + proxy_beta) + beta);
  p.mean /= n;
  for (double ui : u) {
    const double d = std::max(0.0, gamma * ((1 + proxy_gamma) * ui + proxy_beta) + beta) - p.mean;
    p.var += d * d;
  }
  p.var /= n;
  return p;
}

}  // namespace

std::vector<double> normal_quantiles(int64_t n) {
  check(n >= 2, "ProxyNorm", "needs at least 2 proxy samples, got ", n);
  std::vector<double> u(n);
  for (int64_t i = 0; i < n; ++i) {
    const double p = (double(i) + 0.5) / double(n);
    // Newton on Phi(x) = p from x = 0; Phi is convex left of 0 and concave right of it, so the
    // iterates approach the root monotonically after the first step.
    double x = 0;
    for (int it = 0; it < 100; ++it) {
      const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
      const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
      const double step = (cdf - p) / pdf;
      x -= step;
      if (std::abs(step) < 1e-15 * (1 + std::abs(x))) break;
    }
    u[i] = x;
  }
  return u;
}

ProxyNorm::ProxyNorm(int64_t c, const ProxyNormOptions& o)
    : num_channels(c), options(o), quantiles(normal_quantiles(o.samples)) {
  check(o.proxy_eps > 0, "ProxyNorm", "proxy_eps must be > 0, got ", o.proxy_eps);
  norm = register_module("norm", std::make_shared<GroupNorm>(o.groups, c, o.eps, false));
  std::tie(weight, bias) = register_affine(*this, c);
  proxy_weight = register_parameter("proxy_weight", Tensor::zeros({c}));
  proxy_bias = register_parameter("proxy_bias", Tensor::zeros({c}));
  // Graphcore's proxy optimizer decays only gamma', beta'.
  exclude_from_weight_decay("weight");
  exclude_from_weight_decay("bias");
}

Tensor ProxyNorm::forward(const Tensor& x) {
  return proxy_norm_act((*norm)(x), weight, bias, proxy_weight, proxy_bias, quantiles,
                        options.proxy_eps);
}

Tensor ProxyNorm::pre_activation(const Tensor& x) {
  const Tensor y = (*norm)(x);
  Shape per_channel(size_t(y.dim()), 1);
  per_channel[1] = num_channels;
  return add(mul(y, weight.reshape(per_channel)), bias.reshape(per_channel));
}

std::string ProxyNorm::describe() const {
  return "ProxyNorm(" + std::to_string(num_channels) + ", " +
         (options.groups == 1 ? std::string("ln") : "gn=" + std::to_string(options.groups)) +
         ", proxy_eps=" + std::to_string(options.proxy_eps) +
         ", samples=" + std::to_string(options.samples) + ")";
}

Tensor proxy_norm_act(const Tensor& y_in, const Tensor& gamma_in, const Tensor& beta_in,
                      const Tensor& proxy_gamma_in, const Tensor& proxy_beta_in,
                      const std::vector<double>& u, double proxy_eps) {
  check(y_in.dim() >= 2, "ProxyNorm", "expected input (N, C, ...), got ", shape_str(y_in.shape()));
  const int64_t n = y_in.shape()[0], channels = y_in.shape()[1];
  const int64_t l = y_in.numel() / std::max<int64_t>(1, n * channels);
  for (const Tensor* p : {&gamma_in, &beta_in, &proxy_gamma_in, &proxy_beta_in})
    check(p->dim() == 1 && p->shape()[0] == channels, "ProxyNorm", "parameters must have ",
          channels, " entries (one per channel) for input ", shape_str(y_in.shape()));
  const Tensor y = y_in.detach().contiguous();
  const Tensor gamma = gamma_in.detach().to(DType::f64).contiguous(),
               beta = beta_in.detach().to(DType::f64).contiguous(),
               pgamma = proxy_gamma_in.detach().to(DType::f64).contiguous(),
               pbeta = proxy_beta_in.detach().to(DType::f64).contiguous();
  // Per channel: the proxy mean m_c and s_c = 1 / sqrt(var_c + proxy_eps).
  std::vector<double> m(channels), s(channels);
  {
    const double *g = gamma.data<double>(), *b = beta.data<double>(), *pg = pgamma.data<double>(),
                 *pb = pbeta.data<double>();
    for (int64_t c = 0; c < channels; ++c) {
      const Proxy p = proxy_moments(u, g[c], b[c], pg[c], pb[c]);
      m[c] = p.mean;
      s[c] = 1 / std::sqrt(p.var + proxy_eps);
    }
  }
  Tensor out = Tensor::empty(y.shape(), y.dtype());
  dispatch(y.dtype(), [&]<typename T>() {
    const T* ys = y.data<T>();
    T* os = out.data<T>();
    const double *g = gamma.data<double>(), *b = beta.data<double>();
    parallel_for(n * channels, std::max<int64_t>(1, 4096 / std::max<int64_t>(l, 1)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t plane = begin; plane < end; ++plane) {
                     const int64_t c = plane % channels;
                     const T gc = T(g[c]), bc = T(b[c]), mc = T(m[c]), sc = T(s[c]);
                     const T* yp = ys + plane * l;
                     T* op = os + plane * l;
                     for (int64_t i = 0; i < l; ++i)
                       op[i] = (std::max(T(0), gc * yp[i] + bc) - mc) * sc;
                   }
                 });
  });
  return record(out, "ProxyNorm", {y_in, gamma_in, beta_in, proxy_gamma_in, proxy_beta_in},
                [=](const Tensor& gy_in) {
                  const Tensor gy = gy_in.contiguous();
                  Tensor dy = Tensor::empty(y.shape(), y.dtype());
                  Tensor dgamma = Tensor::zeros({channels}, DType::f64),
                         dbeta = Tensor::zeros({channels}, DType::f64),
                         dpgamma = Tensor::zeros({channels}, DType::f64),
                         dpbeta = Tensor::zeros({channels}, DType::f64);
                  dispatch(y.dtype(), [&]<typename T>() {
                    const T *ys = y.data<T>(), *gs = gy.data<T>();
                    T* dys = dy.data<T>();
                    const double *g = gamma.data<double>(), *b = beta.data<double>(),
                                 *pg = pgamma.data<double>(), *pb = pbeta.data<double>();
                    double *dg = dgamma.data<double>(), *db = dbeta.data<double>(),
                           *dpg = dpgamma.data<double>(), *dpb = dpbeta.data<double>();
                    parallel_for(channels, 1, [&](int64_t begin, int64_t end) {
                      for (int64_t c = begin; c < end; ++c) {
                        // Main path: a = gamma y + beta, z = relu(a), out = (z - m) s.
                        //   da = gy s [a > 0];  dy = gamma da;  dgamma += sum da y;  dbeta += sum
                        //   da
                        // and the sums the proxy moments need: Sg = sum gy, Sz = sum gy (z - m).
                        double sum_g = 0, sum_gz = 0, dgc = 0, dbc = 0;
                        for (int64_t k = 0; k < n; ++k) {
                          const int64_t base = (k * channels + c) * l;
                          for (int64_t i = 0; i < l; ++i) {
                            const double yv = double(ys[base + i]), gv = double(gs[base + i]);
                            const double a = g[c] * yv + b[c];
                            sum_g += gv;
                            sum_gz += gv * (std::max(0.0, a) - m[c]);
                            const double da = a > 0 ? gv * s[c] : 0.0;
                            dgc += da * yv;
                            dbc += da;
                            dys[base + i] = T(g[c] * da);
                          }
                        }
                        // Proxy path: dm = -s Sg, dv = -s^3 Sz / 2,
                        //   dP_i = dm / n + dv 2 (P_i - m) / n,  dp_i = dP_i [p_i > 0],
                        //   dgamma += sum dp_i t_i,  dbeta += sum dp_i,  dt_i = gamma dp_i,
                        //   dgamma' = sum dt_i u_i,  dbeta' = sum dt_i.
                        const double dm = -s[c] * sum_g, dv = -0.5 * s[c] * s[c] * s[c] * sum_gz;
                        const double count = double(u.size());
                        double dpgc = 0, dpbc = 0;
                        for (double ui : u) {
                          const double t = (1 + pg[c]) * ui + pb[c], p = g[c] * t + b[c];
                          if (p <= 0) continue;
                          const double dp = dm / count + dv * 2 * (p - m[c]) / count;
                          dgc += dp * t;
                          dbc += dp;
                          dpgc += g[c] * dp * ui;
                          dpbc += g[c] * dp;
                        }
                        dg[c] = dgc, db[c] = dbc, dpg[c] = dpgc, dpb[c] = dpbc;
                      }
                    });
                  });
                  return std::vector<Tensor>{
                      dy, dgamma.to(gamma_in.dtype()), dbeta.to(beta_in.dtype()),
                      dpgamma.to(proxy_gamma_in.dtype()), dpbeta.to(proxy_beta_in.dtype())};
                });
}

NORMLAB_NORM(pn) {
  const ProxyNormOptions d;
  return {.name = "pn",
          .family = NormFamily::sample,
          .summary =
              "Proxy Normalization: LayerNorm/GroupNorm without affine, then affine + ReLU "
              "corrected by a Gaussian proxy; replaces the activation (a slot with no ReLU "
              "after it gets plain LN/GN)",
          .options = {NormOption::flag("ln", false, "LayerNorm first (the default)"),
                      NormOption::count("gn", 1, "GroupNorm with G groups first, instead of ln")
                          .without_default(),
                      NormOption::number("eps", d.eps, kEps, "eps of the LayerNorm/GroupNorm"),
                      NormOption::number("proxy_eps", d.proxy_eps, kEps,
                                         "eps of the proxy's normalization"),
                      NormOption::count("samples", d.samples, "Gaussian quantiles in the proxy")},
          .build = [](const NormArgs& a, int64_t c) {
            ProxyNormOptions o;
            if (a.given("gn")) {
              check(!a.flag("ln"), "norm spec", "pn takes ln or gn=G, not both");
              o.groups = a.count("gn");
            }
            o.eps = a.number("eps");
            o.proxy_eps = a.number("proxy_eps");
            o.samples = a.count("samples");
            check(c % o.groups == 0, "ProxyNorm", "gn=", o.groups, " must divide ", c, " channels");
            // PN corrects the moments *after* an activation; where none follows (the last norm
            // of a residual branch, a shortcut) Graphcore's models keep the plain normalizer.
            if (!a.activation_follows)
              return NormSlot{std::make_shared<GroupNorm>(o.groups, c, o.eps)};
            return NormSlot{std::make_shared<ProxyNorm>(c, o), true};
          }};
}

}  // namespace nl
