#include "layers/norm/cross_iteration_bn.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/norm/affine.hpp"
#include "layers/norm/plane_stats.hpp"
#include "layers/norm/registry.hpp"
#include "layers/norm/running_stats.hpp"

namespace nl {
namespace {

// The window as plain arrays: entry e, channel c, weight element j (F per channel).
struct Window {
  int64_t size = 0, channels = 0, per_channel = 0;
  std::vector<double> weight, mean, sq, dmean, dsq;
  double* row(std::vector<double>& v, int64_t e, int64_t c) {
    return v.data() + (e * channels + c) * per_channel;
  }
};

}  // namespace

CrossIterationBatchNorm::CrossIterationBatchNorm(int64_t c, const CrossIterationBNOptions& o)
    : num_features(c), options(o), conv_input_(std::make_shared<Tensor>()) {
  check(c >= 1 && o.window >= 0 && o.burnin >= 0, "CrossIterationBatchNorm",
        "num_features >= 1, window >= 0 and burnin >= 0 required");
  std::tie(weight, bias) = register_affine(*this, c, o.affine);
  running = RunningStats::register_on(*this, c);
  history_size = register_buffer("history_size", Tensor::zeros({}));
}

void CrossIterationBatchNorm::bind_conv(const ModulePtr& module) {
  auto conv = std::dynamic_pointer_cast<Conv2d>(module);
  check(conv != nullptr, "CrossIterationBatchNorm", "needs the Conv2d before it, got ",
        module ? module->type_name() : std::string("nothing"));
  check(conv->out_channels == num_features, "CrossIterationBatchNorm", "bound to a Conv2d with ",
        conv->out_channels, " output channels, expected ", num_features);
  conv_ = conv;
  std::weak_ptr<Tensor> input = conv_input_;
  conv->register_forward_hook([input](Module&, const Tensor& x, const Tensor&) {
    if (auto slot = input.lock()) *slot = x.detach();
  });
  const Shape w = conv->weight.shape();
  const int64_t per_channel = conv->weight.numel() / num_features, k = options.window;
  const Shape rows{k, num_features, per_channel}, stats{k, num_features};
  history_weight = register_buffer("history_weight", Tensor::zeros(rows));
  history_mean = register_buffer("history_mean", Tensor::zeros(stats));
  history_sq = register_buffer("history_sq", Tensor::zeros(stats));
  history_dmean = register_buffer("history_dmean", Tensor::zeros(rows));
  history_dsq = register_buffer("history_dsq", Tensor::zeros(rows));
}

Tensor CrossIterationBatchNorm::forward(const Tensor& x_in) {
  check(x_in.dim() == 4 && x_in.shape()[1] == num_features, "CrossIterationBatchNorm",
        "expected (N, ", num_features, ", H, W), got input ", shape_str(x_in.shape()));
  const Tensor x = x_in.detach().contiguous();
  const StatLayout layout = StatLayout::of(x, num_features, 0, "CrossIterationBatchNorm");
  const int64_t channels = num_features, planes = layout.n * channels;
  const bool training = is_training();
  const double count = double(layout.count());
  std::vector<double> gamma(channels, 1.0), beta(channels, 0.0);
  if (weight.defined()) gamma = weight.to_vector(), beta = bias.to_vector();

  // The statistics to normalize with: mu, var and K per channel.
  std::vector<double> mu(channels), var(channels), used(channels, 1.0);
  // window_grad: per channel, rho times the sums of the used entries' Jacobians (rows of F),
  // d(sum_tau mu_tau(W_t))/dW_t and d(sum_tau nu_tau(W_t))/dW_t; and W_t as an input.
  std::vector<double> window_dmean, window_dsq;
  Tensor conv_weight;
  Moments batch;
  std::shared_ptr<Conv2d> conv;
  if (training) {
    check(layout.count() > 1, "CrossIterationBatchNorm",
          "expected more than 1 value per channel when training, got input ", shape_str(x.shape()));
    conv = conv_.lock();
    check(conv != nullptr && conv_input_->defined(), "CrossIterationBatchNorm",
          "is not bound to the convolution before it (models bind it; direct users call "
          "bind_conv and run that convolution first)");
    batch = compute_moments(layout, x);
    std::vector<double> sum_mu = batch.mean, sum_sq(channels);
    for (int64_t c = 0; c < channels; ++c) sum_sq[c] = batch.var[c] + batch.mean[c] * batch.mean[c];
    const int64_t size = int64_t(history_size.item());
    if (options.window > 0 && int64_t(running.num_batches_tracked.item()) >= options.burnin &&
        size > 0) {
      Window h{size,
               channels,
               history_weight.numel() / (options.window * channels),
               history_weight.to_vector(),
               history_mean.to_vector(),
               history_sq.to_vector(),
               history_dmean.to_vector(),
               history_dsq.to_vector()};
      const Tensor w_t = conv->effective_weight();
      const std::vector<double> w_now = w_t.to_vector();
      if (options.window_grad) {
        conv_weight = w_t;
        window_dmean.assign(size_t(channels * h.per_channel), 0.0);
        window_dsq.assign(size_t(channels * h.per_channel), 0.0);
      }
      for (int64_t e = 0; e < h.size; ++e)
        for (int64_t c = 0; c < channels; ++c) {
          // First-order Taylor step from the entry's weights to the current ones.
          const double *w_old = h.row(h.weight, e, c), *dm = h.row(h.dmean, e, c),
                       *dq = h.row(h.dsq, e, c), *w = w_now.data() + c * h.per_channel;
          double shift_mu = 0, shift_sq = 0;
          for (int64_t j = 0; j < h.per_channel; ++j) {
            shift_mu += dm[j] * (w[j] - w_old[j]);
            shift_sq += dq[j] * (w[j] - w_old[j]);
          }
          const double m = h.mean[e * channels + c] + options.rho * shift_mu;
          const double q = h.sq[e * channels + c] + options.rho * shift_sq;
          if (q - m * m < 0) continue;  // a compensated variance below 0: drop the entry
          sum_mu[c] += m, sum_sq[c] += q, used[c] += 1;
          if (options.window_grad)
            for (int64_t j = 0; j < h.per_channel; ++j) {
              window_dmean[c * h.per_channel + j] += options.rho * dm[j];
              window_dsq[c * h.per_channel + j] += options.rho * dq[j];
            }
        }
    }
    for (int64_t c = 0; c < channels; ++c) {
      mu[c] = sum_mu[c] / used[c];
      var[c] = std::max(0.0, sum_sq[c] / used[c] - mu[c] * mu[c]);
    }
  } else {
    mu = running.mean.to_vector(), var = running.var.to_vector();
  }

  std::vector<double> s(channels), a(planes), k(planes);
  for (int64_t c = 0; c < channels; ++c)
    s[c] = options.eps_outside ? 1 / (std::sqrt(var[c]) + options.eps)
                               : 1 / std::sqrt(var[c] + options.eps);
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % channels;
    a[p] = gamma[c] * s[c];
    k[p] = beta[c] - a[p] * mu[c];
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  apply_planes(layout, x, Tensor(), a, {}, k, y);

  if (training && record_statistics) {
    NoGradGuard no_grad;
    running.update(batch.mean, batch.var, double(count), options.momentum);
    if (options.window > 0 &&
        running.num_batches_tracked.item() > double(options.burnin - options.window)) {
      // This batch's statistics and their Jacobians w.r.t. the conv weight:
      //   d mu_c / dW = conv weight-gradient of dy = 1/M,  d E[y_c^2] / dW = that of dy = 2y/M.
      const Conv2dOptions& o = conv->options;
      const Shape ws = conv->weight.shape();
      const Tensor dmean =
          conv2d_weight_grad(*conv_input_, Tensor::full(x.shape(), 1 / count, x.dtype()), ws, o);
      Tensor two_y_over_m = Tensor::empty(x.shape(), x.dtype());
      apply_planes(layout, x, Tensor(), std::vector<double>(planes, 2 / count), {},
                   std::vector<double>(planes, 0.0), two_y_over_m);
      const Tensor dsq = conv2d_weight_grad(*conv_input_, two_y_over_m, ws, o);
      // Append, dropping the oldest entry when full.
      const int64_t size = int64_t(history_size.item()), kept = std::min(size, options.window - 1);
      const int64_t f = history_weight.numel() / (options.window * channels);
      auto push = [&](Tensor& buffer, const std::vector<double>& entry, int64_t width) {
        std::vector<double> all = buffer.to_vector();
        std::vector<double> next(all.size(), 0.0);
        std::copy(all.begin() + (size - kept) * width, all.begin() + size * width, next.begin());
        std::copy(entry.begin(), entry.end(), next.begin() + kept * width);
        store_buffer(buffer, next);
      };
      std::vector<double> sq(channels);
      for (int64_t c = 0; c < channels; ++c) sq[c] = batch.var[c] + batch.mean[c] * batch.mean[c];
      push(history_weight, conv->effective_weight().to_vector(), channels * f);
      push(history_mean, batch.mean, channels);
      push(history_sq, sq, channels);
      push(history_dmean, dmean.to_vector(), channels * f);
      push(history_dsq, dsq.to_vector(), channels * f);
      history_size.fill_(double(kept + 1));
    }
  }

  std::vector<Tensor> inputs{x_in};
  if (weight.defined()) inputs.insert(inputs.end(), {weight, bias});
  if (conv_weight.defined()) inputs.push_back(conv_weight);
  const bool eps_outside = options.eps_outside, affine = weight.defined();
  return record(y, "CrossIterationBatchNorm", inputs, [=](const Tensor& dy_in) {
    const Tensor dy = dy_in.contiguous();
    // Per channel S = sum dy, SX = sum dy (x - mu).
    const PlaneGradSums sums = plane_grad_sums(layout, x, dy, mu);
    std::vector<double> sum(channels, 0.0), sum_x(channels, 0.0);
    for (int64_t p = 0; p < planes; ++p)
      sum[p % channels] += sums.sum_dy[p], sum_x[p % channels] += sums.sum_dy_xc[p];
    std::vector<double> da(planes), db(planes, 0.0), dk(planes, 0.0), dgamma(channels),
        dbeta(channels), dconv(window_dmean.size());
    const size_t per_channel = window_dmean.size() / size_t(channels);
    for (int64_t c = 0; c < channels; ++c) {
      dgamma[c] = s[c] * sum_x[c];
      dbeta[c] = sum[c];
      double b = 0, kc = 0;
      if (training) {
        // mu = (mu_t + old)/K, var = (nu_t + old)/K - mu^2 with only mu_t, nu_t depending on x:
        //   D_nu = ds/dvar gamma SX,  D_mu = -s gamma S - 2 mu D_nu,
        //   dx = gamma s dy + (2 D_nu / (K M)) x + D_mu / (K M).
        const double sd = std::sqrt(var[c]);
        const double ds_dvar =
            eps_outside ? (sd > 0 ? -s[c] * s[c] / (2 * sd) : 0.0) : -0.5 * s[c] * s[c] * s[c];
        const double d_nu = ds_dvar * gamma[c] * sum_x[c];
        const double d_mu = -s[c] * gamma[c] * sum[c] - 2 * mu[c] * d_nu;
        b = 2 * d_nu / (used[c] * count);
        kc = d_mu / (used[c] * count);
        // window_grad: D_mu and D_nu are dL/d(sum of the K means) and dL/d(sum of the K second
        // moments) times K; each used entry adds rho <dmu_tau/dW, W_t - W_tau> to the first.
        for (size_t j = 0; j < per_channel; ++j) {
          const size_t i = size_t(c) * per_channel + j;
          dconv[i] = (d_mu * window_dmean[i] + d_nu * window_dsq[i]) / used[c];
        }
      }
      for (int64_t n = 0; n < layout.n; ++n) {
        const int64_t p = n * channels + c;
        da[p] = gamma[c] * s[c], db[p] = b, dk[p] = kc;
      }
    }
    std::vector<Tensor> grads =
        plane_backward(layout, dy, x, da, training ? db : std::vector<double>{}, dk,
                       affine ? inputs[1] : Tensor(), dgamma, dbeta);
    if (!dconv.empty())
      grads.push_back(Tensor::from_vector(dconv, inputs.back().shape(), inputs.back().dtype()));
    return grads;
  });
}

std::string CrossIterationBatchNorm::describe() const {
  return "CrossIterationBatchNorm(" + std::to_string(num_features) +
         ", window=" + std::to_string(options.window) +
         ", burnin=" + std::to_string(options.burnin) + ")";
}

NORMLAB_NORM(cbn) {
  const CrossIterationBNOptions d;
  return {.name = "cbn",
          .family = NormFamily::batch,
          .summary =
              "Cross-Iteration BatchNorm: batch statistics pooled with the last k "
              "iterations', carried to the current conv weights by a Taylor step",
          .options = {NormOption::count("window", d.window, "past iterations pooled, k"),
                      NormOption::number("burnin", double(d.burnin), Range{0, 1e9},
                                         "training iterations before the window is used"),
                      NormOption::number("rho", d.rho, kUnit, "weight of the Taylor compensation"),
                      NormOption::number("eps", d.eps, kEps, "added to the variance"),
                      NormOption::flag("eps_outside", d.eps_outside,
                                       "the authors' (x - mu) / (sqrt(var) + eps)"),
                      NormOption::number("momentum", *d.momentum, kUnit,
                                         "running <- (1 - m) running + m batch"),
                      NormOption::flag("affine", d.affine, "learned per-channel gamma and beta"),
                      NormOption::flag("window_grad", d.window_grad,
                                       "gradient also through the window's Taylor terms into "
                                       "the conv weight (the authors drop it)")},
          .build = [](const NormArgs& a, int64_t c) {
            CrossIterationBNOptions o;
            o.window = a.count("window");
            o.burnin = int64_t(a.number("burnin"));
            o.rho = a.number("rho");
            o.eps = a.number("eps");
            o.eps_outside = a.flag("eps_outside");
            o.momentum = a.number("momentum");
            o.affine = a.flag("affine");
            o.window_grad = a.flag("window_grad");
            auto cbn = std::make_shared<CrossIterationBatchNorm>(c, o);
            NormSlot slot{cbn};
            slot.bind = [cbn](const ModulePtr& producer) { cbn->bind_conv(producer); };
            return slot;
          }};
}

}  // namespace nl
