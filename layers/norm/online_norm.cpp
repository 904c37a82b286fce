#include "layers/norm/online_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_stats.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/rms_norm.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {
namespace {

// Per plane (n, c): the center and 1/scale used for it, in stream order.
struct StreamStats {
  std::vector<double> center, inv_scale;
};

// Walks the samples in order per channel, recording the statistics each one is normalized
// with and advancing the stream (m, s2) past it.
StreamStats advance_stream(const StatLayout& layout, const Moments& sample, double* m, double* s2,
                           double alpha, double eps) {
  StreamStats st{std::vector<double>(layout.n * layout.c),
                 std::vector<double>(layout.n * layout.c)};
  for (int64_t c = 0; c < layout.c; ++c)
    for (int64_t n = 0; n < layout.n; ++n) {
      const int64_t p = n * layout.c + c;
      st.center[p] = m[c];
      st.inv_scale[p] = 1 / std::sqrt(s2[c] + eps);
      const double d = sample.mean[p] - m[c];
      s2[c] = alpha * s2[c] + (1 - alpha) * sample.var[p] + alpha * (1 - alpha) * d * d;
      m[c] += (1 - alpha) * d;
    }
  return st;
}

}  // namespace

OnlineNorm::OnlineNorm(int64_t c, const OnlineNormOptions& o) : num_channels(c), options(o) {
  check(c >= 1, "OnlineNorm", "num_channels must be >= 1, got ", c);
  check(o.alpha_fwd > 0 && o.alpha_fwd < 1 && o.alpha_bkw > 0 && o.alpha_bkw < 1, "OnlineNorm",
        "alpha_fwd and alpha_bkw must be in (0, 1)");
  check(o.ecm == "ls" || o.ecm == "ac" || o.ecm == "none", "OnlineNorm", "ecm must be ls, ac or ",
        "none, got '", o.ecm, "'");
  std::tie(weight, bias) = register_affine(*this, c, o.affine);
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
  u_ctrl = register_buffer("u", Tensor::zeros({c}));
  v_ctrl = register_buffer("v", Tensor::zeros({c}));
  if (o.ecm == "ls")
    layer_scaling = register_module("layer_scaling", std::make_shared<RMSNorm>(c, o.ls_eps, false));
}

Tensor OnlineNorm::forward(const Tensor& x_in) {
  check(x_in.dim() >= 2 && x_in.shape()[1] == num_channels, "OnlineNorm", "expected ", num_channels,
        " channels, got input ", shape_str(x_in.shape()));
  const Tensor x = x_in.detach().contiguous();
  const StatLayout layout = StatLayout::of(x, num_channels, 1, "OnlineNorm");
  const int64_t planes = layout.n * layout.c;
  const bool training = is_training();
  std::vector<double> gamma(num_channels, 1.0), beta(num_channels, 0.0);
  if (weight.defined()) gamma = weight.to_vector(), beta = bias.to_vector();

  StreamStats st;
  Moments sample;
  std::vector<double> m = running_mean.to_vector(), s2 = running_var.to_vector();
  if (training) {
    sample = compute_moments(layout, x);
    st = advance_stream(layout, sample, m.data(), s2.data(), options.alpha_fwd, options.eps);
    store_buffer(running_mean, m);
    store_buffer(running_var, s2);
  } else {
    st = {std::vector<double>(planes), std::vector<double>(planes)};
    for (int64_t p = 0; p < planes; ++p) {
      const int64_t c = p % num_channels;
      st.center[p] = m[c];
      st.inv_scale[p] = 1 / std::sqrt(s2[c] + options.eps);
    }
  }
  // y = gamma (x - center) / scale + beta, one multiply-add per element.
  std::vector<double> a(planes), k(planes);
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % num_channels;
    a[p] = gamma[c] * st.inv_scale[p];
    k[p] = beta[c] - a[p] * st.center[p];
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  apply_planes(layout, x, Tensor(), a, {}, k, y);

  std::vector<Tensor> inputs{x_in};
  if (weight.defined()) inputs.insert(inputs.end(), {weight, bias});
  Tensor u = u_ctrl, v = v_ctrl;
  const double bkw = 1 - options.alpha_bkw;
  const int64_t channels = num_channels;
  y = record(y, "OnlineNorm", inputs, [=](const Tensor& dy_in) {
    const Tensor dy = dy_in.contiguous();
    // Per plane: S = sum dy, Sx = sum dy (x - center).
    const PlaneGradSums sums = plane_grad_sums(layout, x, dy, st.center);
    const double l = double(layout.l);
    std::vector<double> dgamma(channels, 0.0), dbeta(channels, 0.0);
    std::vector<double> da(planes), db(planes, 0.0), dk(planes, 0.0);
    std::vector<double> us = u.to_vector(), vs = v.to_vector();
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t n = 0; n < layout.n; ++n) {  // stream order
        const int64_t p = n * channels + c;
        const double s = st.inv_scale[p];
        dgamma[c] += sums.sum_dy_xc[p] * s;
        dbeta[c] += sums.sum_dy[p];
        da[p] = gamma[c] * s;
        if (!training) continue;  // eval: the plain derivative dx = gamma / scale dy
        // The control process, with yhat = (x - center) s and g = gamma dy:
        //   dx = gamma s dy - b v s^2 (x - center) - b u,  then v and u advance.
        const double mean_g_yhat = gamma[c] * sums.sum_dy_xc[p] * s / l;
        const double offset = sample.mean[p] - st.center[p];  // mean(x - center)
        const double mean_yhat = offset * s;
        const double mean_yhat2 = (sample.var[p] + offset * offset) * s * s;
        db[p] = -bkw * vs[c] * s * s;
        dk[p] = bkw * vs[c] * s * s * st.center[p] - bkw * us[c];
        const double mean_dx =
            da[p] * sums.sum_dy[p] / l - bkw * vs[c] * s * mean_yhat - bkw * us[c];
        vs[c] += mean_g_yhat - bkw * vs[c] * mean_yhat2;
        us[c] += mean_dx;
      }
    if (training) store_buffer(u, us), store_buffer(v, vs);
    return plane_backward(layout, dy, x, da, training ? db : std::vector<double>{}, dk,
                          inputs.size() == 3 ? inputs[1] : Tensor(), dgamma, dbeta);
  });
  if (options.ecm == "ls") return (*layer_scaling)(y);
  if (options.ecm == "ac") return clamp(y, -options.clamp, options.clamp);
  return y;
}

std::string OnlineNorm::describe() const {
  return "OnlineNorm(" + std::to_string(num_channels) +
         ", alpha_fwd=" + std::to_string(options.alpha_fwd) +
         ", alpha_bkw=" + std::to_string(options.alpha_bkw) + ", ecm=" + options.ecm + ")";
}

NORMLAB_NORM(online) {
  const OnlineNormOptions d;
  const Range open_unit{0, 1, true, true};
  return {.name = "online",
          .family = NormFamily::batch,
          .summary =
              "Online Normalization: per-channel streaming statistics over the samples in "
              "order; control-variable backward; batch-size independent",
          .options = {NormOption::number("alpha_fwd", d.alpha_fwd, open_unit,
                                         "forward decay of the streaming mean and variance"),
                      NormOption::number("alpha_bkw", d.alpha_bkw, open_unit,
                                         "backward decay of the control variables"),
                      NormOption::number("eps", d.eps, kEps, "added to the variance"),
                      NormOption::flag("affine", d.affine, "learned per-channel gamma and beta"),
                      NormOption::word("ecm", d.ecm, {"ls", "ac", "none"},
                                       "error compensation: layer scaling, activation clamping, "
                                       "or none"),
                      NormOption::number("clamp", d.clamp, kPositive, "ecm=ac: the clamp"),
                      NormOption::number("ls_eps", d.ls_eps, kEps, "ecm=ls: its eps")},
          .build =
              [](const NormArgs& a, int64_t c) {
                OnlineNormOptions o;
                o.alpha_fwd = a.number("alpha_fwd");
                o.alpha_bkw = a.number("alpha_bkw");
                o.eps = a.number("eps");
                o.affine = a.flag("affine");
                o.ecm = a.word("ecm");
                o.clamp = a.number("clamp");
                o.ls_eps = a.number("ls_eps");
                return NormSlot{std::make_shared<OnlineNorm>(c, o)};
              },
          .exact_training_gradient = false};
}

}  // namespace nl
