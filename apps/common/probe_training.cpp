#include "apps/common/probe_training.hpp"

#include <cmath>

#include "apps/common/training.hpp"
#include "core/init.hpp"
#include "layers/loss.hpp"
#include "layers/models/resnet.hpp"

namespace nl::apps {

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

int64_t train_with_probes(const ProbedRun& run, const std::string& norm, const StepProbe& probe) {
  check(run.every >= 1 && run.steps >= 1, "probe", "needs steps >= 1 and every >= 1");
  Datasets data = load_cifar(run.data);
  const auto stats = data.train->channel_stats();
  const std::vector<float> mean(stats.mean.begin(), stats.mean.end()),
      sd(stats.std.begin(), stats.std.end());
  manual_seed(run.seed);
  ModulePtr model =
      make_model(run.model, ModelOptions{run.width, norm, int(data.train->num_classes()), true});
  model->train();
  SGD opt({{.params = model->parameters(), .lr = run.lr, .momentum = run.momentum}});
  data::Compose aug(
      {data::RandomCrop(32, 4), data::RandomHorizontalFlip(), data::Normalize(mean, sd)});
  data::DataLoader loader(
      *data.train,
      {.batch_size = run.batch_size, .shuffle = true, .drop_last = true, .seed = run.seed}, aug);
  int64_t step = 0, epoch = 0;
  loader.start_epoch(epoch);
  while (step < run.steps) {
    auto batch = loader.next();
    if (!batch) {
      loader.start_epoch(++epoch);
      continue;
    }
    if (step % run.every == 0) probe(*model, opt, *batch, step);
    opt.zero_grad();
    Tensor loss = cross_entropy((*model)(batch->images), batch->labels);
    if (!std::isfinite(loss.item())) return step;
    loss.backward();
    opt.step();
    ++step;
  }
  return -1;
}

std::map<std::string, Tensor> snapshot(const Module& model) {
  std::map<std::string, Tensor> s;
  for (auto& [k, t] : model.state_dict()) s[k] = t.clone();
  return s;
}

std::vector<std::pair<int64_t, int64_t>> parameter_ranges(const Module& model) {
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t offset = 0;
  for (const Tensor& p : model.parameters()) {
    out.emplace_back(offset, offset + p.numel());
    offset += p.numel();
  }
  return out;
}

}  // namespace nl::apps
