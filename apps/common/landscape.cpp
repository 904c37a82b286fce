#include "apps/common/landscape.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>

#include "apps/common/probe_training.hpp"
#include "autograd/node.hpp"

namespace nl::apps {
namespace {

// w <- w0 - eta g for every parameter (flat g in parameter order).
void move_along(Module& model, const std::map<std::string, Tensor>& start,
                const std::vector<double>& g, double eta) {
  NoGradGuard no_grad;
  size_t offset = 0;
  for (auto& [name, p] : model.named_parameters()) {
    std::vector<double> w = start.at(name).to_vector();
    for (double& v : w) v -= eta * g[offset++];
    p.copy_(Tensor::from_vector(w, p.shape(), DType::f64));
  }
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

}  // namespace

std::vector<ProbeRow> run_landscape(const LandscapeConfig& config) {
  check(!config.etas.empty(), "probe landscape", "needs at least one step size");
  const std::vector<std::string> norms =
      config.norms.empty() ? std::vector<std::string>{"bn", "none"} : config.norms;
  std::vector<ProbeRow> rows;
  for (const std::string& norm : norms) {
    auto row = [&](const char* metric, int64_t step, double value) {
      rows.push_back({norm, "plain", "", metric, int(step), value});
    };
    // Along g at w, on the step's batch; every eta starts from the saved state again.
    auto probe = [&](Module& model, Optimizer&, const data::Batch& batch, int64_t step) {
      const std::map<std::string, Tensor> saved = snapshot(model);
      const auto [loss0, g0] = loss_and_grad(model, batch);
      double g_norm = 0;
      for (double v : g0) g_norm += v * v;
      g_norm = std::sqrt(g_norm);
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      double pred_min = lo, pred_max = 0, beta = 0;
      for (double eta : config.etas) {
        move_along(model, saved, g0, eta);
        const auto [loss, g] = loss_and_grad(model, batch);
        model.load_state_dict(saved);  // weights and running statistics
        lo = std::min(lo, loss), hi = std::max(hi, loss);
        const double d = distance(g0, g);
        pred_min = std::min(pred_min, d), pred_max = std::max(pred_max, d);
        if (g_norm > 0) beta = std::max(beta, d / (eta * g_norm));
      }
      row("loss", step, loss0);
      row("loss_variation", step, hi - lo);
      row("grad_pred_min", step, pred_min);
      row("grad_pred_max", step, pred_max);
      row("beta_smoothness", step, beta);
      std::cout << "landscape " << norm << " step " << step << ": loss " << loss0 << ", variation "
                << hi - lo << ", beta " << beta << "\n"
                << std::flush;
    };
    const int64_t diverged = train_with_probes(config.run, norm, probe);
    if (diverged >= 0) {
      std::cout << "landscape " << norm << " diverged at step " << diverged << "\n";
      row("diverged", diverged, 1.0);
    }
  }
  return rows;
}

}  // namespace nl::apps
