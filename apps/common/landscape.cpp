#include "apps/common/landscape.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>

#include "apps/common/training.hpp"
#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "core/random.hpp"
#include "data/loader.hpp"
#include "layers/loss.hpp"
#include "layers/models/resnet.hpp"
#include "layers/optim/optimizer.hpp"

namespace nl::apps {
namespace {

// Loss and gradient (one flat vector over all parameters) of `model` on a batch.
std::pair<double, std::vector<double>> loss_and_grad(Module& model, const data::Batch& batch) {
  model.zero_grad();
  Tensor loss = cross_entropy(model(batch.images), batch.labels);
  loss.backward();
  std::vector<double> g;
  for (const Tensor& p : model.parameters()) {
    const std::vector<double> v =
        p.grad().defined() ? p.grad().to_vector() : std::vector<double>(p.numel(), 0.0);
    g.insert(g.end(), v.begin(), v.end());
  }
  return {loss.item(), g};
}

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
  check(config.every >= 1 && config.steps >= 1 && !config.etas.empty(), "probe landscape",
        "needs steps >= 1, every >= 1 and at least one step size");
  const std::vector<std::string> norms =
      config.norms.empty() ? std::vector<std::string>{"bn", "none"} : config.norms;
  Datasets data = load_cifar(config.data);
  const auto stats = data.train->channel_stats();
  const std::vector<float> mean(stats.mean.begin(), stats.mean.end()),
      sd(stats.std.begin(), stats.std.end());
  std::vector<ProbeRow> rows;
  for (const std::string& norm : norms) {
    manual_seed(config.seed);
    // Kaiming-normal convolutions (as torchvision's VGG): with PyTorch's default init the
    // unnormalized network's signal fades and its landscape is trivially flat.
    ModulePtr model = make_model(
        config.model, ModelOptions{config.width, norm, int(data.train->num_classes()), true});
    model->train();
    SGD opt({{.params = model->parameters(), .lr = config.lr, .momentum = config.momentum}});
    data::Compose aug(
        {data::RandomCrop(32, 4), data::RandomHorizontalFlip(), data::Normalize(mean, sd)});
    data::DataLoader loader(
        *data.train,
        {.batch_size = config.batch_size, .shuffle = true, .drop_last = true, .seed = config.seed},
        aug);
    auto row = [&](const char* metric, int64_t step, double value) {
      rows.push_back({norm, "plain", "", metric, int(step), value});
    };
    int64_t step = 0, epoch = 0;
    loader.start_epoch(epoch);
    while (step < config.steps) {
      auto batch = loader.next();
      if (!batch) {
        loader.start_epoch(++epoch);
        continue;
      }
      if (step % config.every == 0) {
        // Probe at w along g, on this batch, then put everything back.
        const std::map<std::string, Tensor> saved = [&] {
          std::map<std::string, Tensor> s;
          for (auto& [k, t] : model->state_dict()) s[k] = t.clone();
          return s;
        }();
        const auto [loss0, g0] = loss_and_grad(*model, *batch);
        double g_norm = 0;
        for (double v : g0) g_norm += v * v;
        g_norm = std::sqrt(g_norm);
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        double pred_min = lo, pred_max = 0, beta = 0;
        for (double eta : config.etas) {
          move_along(*model, saved, g0, eta);
          const auto [loss, g] = loss_and_grad(*model, *batch);
          model->load_state_dict(saved);  // restores weights and running statistics
          lo = std::min(lo, loss), hi = std::max(hi, loss);
          const double d = distance(g0, g);
          pred_min = std::min(pred_min, d), pred_max = std::max(pred_max, d);
          if (g_norm > 0) beta = std::max(beta, d / (eta * g_norm));
        }
        row("loss", step, loss0);
        row("loss_variation", step, std::isfinite(hi - lo) ? hi - lo : NAN);
        row("grad_pred_min", step, pred_min);
        row("grad_pred_max", step, pred_max);
        row("beta_smoothness", step, beta);
        std::cout << "landscape " << norm << " step " << step << ": loss " << loss0
                  << ", variation " << hi - lo << ", beta " << beta << "\n"
                  << std::flush;
      }
      opt.zero_grad();
      Tensor loss = cross_entropy((*model)(batch->images), batch->labels);
      if (!std::isfinite(loss.item())) {
        std::cout << "landscape " << norm << " diverged at step " << step << "\n";
        row("diverged", step, 1.0);
        break;
      }
      loss.backward();
      opt.step();
      ++step;
    }
  }
  return rows;
}

}  // namespace nl::apps
