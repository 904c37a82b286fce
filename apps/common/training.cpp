#include "apps/common/training.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "apps/common/run_checks.hpp"
#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "core/parallel.hpp"
#include "core/safetensors.hpp"
#include "data/cifar_binary.hpp"
#include "data/image_folder.hpp"
#include "data/loader.hpp"
#include "layers/loss.hpp"
#include "layers/models/resnet.hpp"
#include "layers/optim/schedule.hpp"

namespace nl::apps {
namespace fs = std::filesystem;
using json = nlohmann::json;

json TrainConfig::to_json() const {
  return {{"data", data},
          {"model", model},
          {"width", width},
          {"norm", norm},
          {"residual", residual},
          {"kaiming_normal", kaiming_normal},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"momentum", momentum},
          {"nesterov", nesterov},
          {"wd", wd},
          {"wd_skip_norm_bias", wd_skip_norm_bias},
          {"agc", agc},
          {"schedule", schedule},
          {"optimizer", optimizer},
          {"pct_start", pct_start},
          {"seed", seed},
          {"threads", num_threads()},
          {"train_limit", train_limit},
          {"test_limit", test_limit},
          {"normlab_version", NORMLAB_VERSION},
          {"git_commit", NORMLAB_GIT_COMMIT}};
}

TrainConfig TrainConfig::from_json(const json& j) {
  TrainConfig c;
  const auto take = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      field = j.at(key).get<std::remove_reference_t<decltype(field)>>();
    } catch (const std::exception&) {
      throw Error(std::string("config field '") + key +
                  "' has the wrong type: " + j.at(key).dump());
    }
  };
  take("data", c.data), take("model", c.model), take("width", c.width), take("norm", c.norm);
  take("residual", c.residual), take("kaiming_normal", c.kaiming_normal);
  take("epochs", c.epochs), take("batch_size", c.batch_size), take("lr", c.lr);
  take("momentum", c.momentum), take("nesterov", c.nesterov), take("wd", c.wd);
  take("wd_skip_norm_bias", c.wd_skip_norm_bias), take("agc", c.agc);
  take("schedule", c.schedule), take("optimizer", c.optimizer), take("pct_start", c.pct_start);
  take("seed", c.seed), take("train_limit", c.train_limit), take("test_limit", c.test_limit);
  return c;
}

Datasets load_cifar(const std::string& dir, bool test_only) {
  const std::string how =
      "Get CIFAR-10 from https://www.cs.toronto.edu/~kriz/cifar.html (binary version, extract "
      "cifar-10-batches-bin/) and pass --data DIR, or use an image folder with train/<class>/ "
      "and test/<class>/.";
  if (dir.empty()) throw Error("no data folder given. " + how);
  if (!fs::is_directory(dir)) throw Error(dir + ": data folder not found. " + how);
  Datasets d;
  const fs::path train_dir = fs::path(dir) / "train", test_dir = fs::path(dir) / "test";
  if (data::is_cifar10_binary_dir(dir)) {
    if (!test_only) d.train = std::make_unique<data::Cifar10Binary>(dir, true);
    d.test = std::make_unique<data::Cifar10Binary>(dir, false);
  } else if (fs::is_directory(test_dir) && (test_only || fs::is_directory(train_dir))) {
    if (test_only) {
      d.test = std::make_unique<data::ImageFolder>(test_dir.string());
      return d;
    }
    d.train = std::make_unique<data::ImageFolder>(train_dir.string());
    // The test images must have the training images' size: decode them against it, so that
    // the message names the first test file that differs.
    data::ImageFolderOptions test_options;
    test_options.expect_width = int(d.train->width());
    test_options.expect_height = int(d.train->height());
    d.test = std::make_unique<data::ImageFolder>(test_dir.string(), test_options);
  } else {
    throw Error(dir +
                ": neither a CIFAR-10 binary folder (data_batch_1.bin ...) nor an image "
                "folder with " +
                (test_only ? "test/" : "train/ and test/") + ". " + how);
  }
  if (d.train)
    check_same_classes(d.train->class_names(), d.test->class_names(),
                       dir + ": train/ and test/ (class folders)");
  return d;
}

Tensor normalized_images(const data::ImageSet& set, const std::vector<int64_t>& indices,
                         const std::vector<float>& mean, const std::vector<float>& std) {
  const int64_t n = int64_t(indices.size()), c = set.channels(), plane = set.height() * set.width();
  Tensor x = Tensor::empty({n, c, set.height(), set.width()});
  float* p = x.data<float>();
  parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const uint8_t* img = set.image(indices[i]);
      for (int64_t ch = 0; ch < c; ++ch) {
        const float m = mean[ch], inv = 1.0f / std[ch];
        for (int64_t k = 0; k < plane; ++k)
          p[(i * c + ch) * plane + k] = (img[ch * plane + k] / 255.0f - m) * inv;
      }
    }
  });
  return x;
}

// Groups by (weight decay?, AGC?): decay skips 1-D parameters with --wd-skip-norm-bias and
// whatever a layer marks as never decayed (Module::no_weight_decay); AGC skips the classifier
// (the last Linear), as the AGC paper does.
std::vector<ParamGroup> param_groups(const Module& model, const TrainConfig& c) {
  std::string classifier;
  for (auto& [name, m] : model.named_modules())
    if (m->type_name() == "Linear") classifier = name + ".";
  const auto no_decay = model.no_weight_decay();
  std::map<std::pair<bool, bool>, ParamGroup> by_kind;  // (decay, agc) -> group
  for (auto& [name, p] : model.named_parameters()) {
    const bool decay = !(c.wd_skip_norm_bias && p.dim() <= 1) && !no_decay.count(name);
    const bool agc = c.agc > 0 && !(!classifier.empty() && name.rfind(classifier, 0) == 0);
    ParamGroup& g = by_kind[{decay, agc}];
    g.params.push_back(p);
    g.lr = c.lr;
    g.momentum = c.momentum;
    g.nesterov = c.nesterov;
    g.weight_decay = decay ? c.wd : 0;
    g.agc_clip = agc ? c.agc : 0;
  }
  // Decayed groups first, so that the default run keeps its single group 0.
  std::vector<ParamGroup> groups;
  for (bool decay : {true, false})
    for (bool agc : {false, true})
      if (by_kind.count({decay, agc})) groups.push_back(by_kind[{decay, agc}]);
  return groups;
}

namespace {

Tensor normalized_batch(const data::ImageSet& set, int64_t start, int64_t n,
                        const std::vector<float>& mean, const std::vector<float>& std) {
  std::vector<int64_t> indices(n);
  for (int64_t i = 0; i < n; ++i) indices[i] = start + i;
  return normalized_images(set, indices, mean, std);
}

bool all_finite(const Tensor& t) {
  bool ok = true;
  dispatch(t.dtype(), [&]<typename T>() {
    const Tensor c = t.detach().contiguous();
    const T* p = c.data<T>();
    for (int64_t i = 0; i < c.numel() && ok; ++i) ok = std::isfinite(p[i]);
  });
  return ok;
}

// Re-runs one batch with hooks on every module to name where non-finite values first appear:
// the first module (in forward order) whose output is non-finite, else the first module (in
// backward order) whose output gradient is.
std::string diagnose(Module& model, const Tensor& x, const std::vector<int64_t>& labels) {
  std::string bad_output, bad_grad;
  for (auto& [name, m] : model.named_modules()) {
    const std::string nm = name + " (" + m->type_name() + ")";
    m->register_forward_hook([&, nm](Module&, const Tensor&, const Tensor& out) {
      if (bad_output.empty() && !all_finite(out)) bad_output = nm;
      if (out.requires_grad())
        const_cast<Tensor&>(out).register_hook([&, nm](const Tensor& g) {
          if (bad_grad.empty() && !all_finite(g)) bad_grad = nm;
          return Tensor();
        });
    });
  }
  model.zero_grad();
  Tensor loss = cross_entropy(model(x), labels);
  if (bad_output.empty()) loss.backward();
  for (auto& [_, m] : model.named_modules()) m->clear_forward_hooks();
  if (!bad_output.empty()) return "the output of layer " + bad_output + " became non-finite";
  if (!bad_grad.empty())
    return "the gradient at the output of layer " + bad_grad + " became non-finite";
  return "no single layer could be named (the values overflowed in the loss or the update)";
}

std::unique_ptr<Optimizer> make_optimizer(const Module& model, const TrainConfig& c) {
  if (c.optimizer == "sgd") return std::make_unique<SGD>(param_groups(model, c));
  if (c.optimizer == "adamw") {
    auto groups = param_groups(model, c);
    for (auto& g : groups) g.nesterov = false, g.momentum = 0.9;
    return make_adamw(std::move(groups));
  }
  throw Error("unknown optimizer '" + c.optimizer + "' (use sgd or adamw)");
}

std::unique_ptr<Schedule> make_schedule(Optimizer& opt, const TrainConfig& c, int64_t total) {
  if (c.schedule == "onecycle") {
    OneCycleOptions o;
    o.max_lr = c.lr;
    o.total_steps = total;
    o.pct_start = c.pct_start;
    o.cosine = false;  // the standard recipe anneals linearly
    o.cycle_momentum = c.optimizer == "sgd";
    return std::make_unique<OneCycleLR>(opt, o);
  }
  if (c.schedule == "cosine") return std::make_unique<CosineLR>(opt, total);
  if (c.schedule == "step")
    return std::make_unique<MultiStepLR>(opt, std::vector<int64_t>{total / 2, total * 3 / 4}, 0.1);
  throw Error("unknown schedule '" + c.schedule + "' (use onecycle, cosine or step)");
}

std::string format_duration(double s) {
  char buf[32];
  const int t = int(s);
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

// Keeps the metrics of epochs up to `last_epoch` (for resume) and returns them as text.
std::string metrics_until(const fs::path& file, int64_t last_epoch) {
  std::ifstream f(file);
  std::string keep, line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    if (json::parse(line).at("epoch").get<int64_t>() <= last_epoch) keep += line + "\n";
  }
  return keep;
}

}  // namespace

EvalResult evaluate(Module& model, const data::ImageSet& set, const std::vector<float>& mean,
                    const std::vector<float>& std, int batch_size, bool keep_logits) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  EvalResult r;
  const int64_t k = set.num_classes();
  r.confusion.assign(k, std::vector<int64_t>(k, 0));
  check(k >= 1, "evaluate", "the test set has no classes");
  if (keep_logits) r.logits = Tensor::empty({set.size(), k});
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < set.size(); start += batch_size) {
    const int64_t n = std::min<int64_t>(batch_size, set.size() - start);
    std::vector<int64_t> labels(n);
    for (int64_t i = 0; i < n; ++i) labels[i] = set.label(start + i);
    Tensor logits = model(normalized_batch(set, start, n, mean, std));
    check(logits.dim() == 2 && logits.size(0) == n && logits.size(1) == k, "evaluate",
          "the model gives outputs of shape ", shape_str(logits.shape()), " for ", n, " images of ",
          k, " classes (was it built for another number of classes?)");
    check(all_finite(logits), "evaluate", "the model's output is NaN or infinite for test images ",
          start, "..", start + n - 1,
          " (non-finite parameters or running statistics? a diverged checkpoint?)");
    if (keep_logits) r.logits.narrow(0, start, n).copy_(logits);
    loss_sum += cross_entropy(logits, labels).item() * n;
    const Tensor pred = argmax(logits, 1);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = int64_t(pred.at({i}));
      correct += p == labels[i];
      ++r.confusion[labels[i]][p];
    }
  }
  model.train(was_training);
  r.loss = loss_sum / set.size();
  r.accuracy = double(correct) / set.size();
  return r;
}

double run_training(const TrainConfig& cfg) {
  check_settings(cfg);
  set_num_threads(cfg.threads);
  // Everything that can be refused is checked before the first file is written.
  const fs::path out = prepare_output_folder(cfg.out);
  std::optional<Checkpoint> ck;
  if (!cfg.resume.empty()) {
    ck = load_checkpoint(cfg.resume);
    check_resume_compatible(*ck, cfg);
  }
  const auto t_load = std::chrono::steady_clock::now();
  Datasets data = load_cifar(cfg.data);
  data.train->keep_subset(cfg.train_limit);
  const auto stats = data.train->channel_stats();
  data.test->keep_subset(cfg.test_limit);
  const std::vector<float> mean(stats.mean.begin(), stats.mean.end()),
      sd(stats.std.begin(), stats.std.end());
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  std::printf("data: %lld train / %lld test images from %s (%.1f s); mean %.4f %.4f %.4f\n",
              (long long)data.train->size(), (long long)data.test->size(), cfg.data.c_str(), load_s,
              mean[0], mean[1], mean[2]);
  if (ck) {
    if (ck->meta.contains("classes"))
      check_same_classes(ck->meta["classes"].get<std::vector<std::string>>(),
                         data.train->class_names(),
                         cfg.resume + " (the classes it was trained on) and " + cfg.data);
    const InputNormalization saved = checkpoint_normalization(*ck, data.train->channels());
    check(saved.mean == mean && saved.std == sd, "train --resume", cfg.resume,
          " was trained on images with another per-channel mean/std than ", cfg.data,
          " gives now (another training set?)");
  }

  check_memory_budget(cfg, data.train->num_classes());
  const int64_t steps = data.train->size() / cfg.batch_size;
  check(steps >= 1, "train", "--batch-size ", cfg.batch_size, " is larger than the ",
        data.train->size(), " training images (--train-limit ", cfg.train_limit, ")");
  check(cfg.schedule != "onecycle" || steps * cfg.epochs >= 2, "train", "the run has only ",
        steps * cfg.epochs, " optimizer step (--epochs ", cfg.epochs, " x ", steps,
        " batch of --batch-size ", cfg.batch_size, " from ", data.train->size(),
        " training images); the one-cycle schedule needs at least 2: raise --epochs or "
        "--train-limit, or lower --batch-size");

  manual_seed(cfg.seed);
  const ModelOptions model_options{cfg.width, cfg.norm, int(data.train->num_classes()),
                                   cfg.kaiming_normal, cfg.residual};
  ModulePtr model = make_model(cfg.model, model_options);
  auto opt = make_optimizer(*model, cfg);
  data::Compose aug(
      {data::RandomCrop(32, 4), data::RandomHorizontalFlip(), data::Normalize(mean, sd)});
  data::DataLoader loader(
      *data.train,
      {.batch_size = cfg.batch_size, .shuffle = true, .drop_last = true, .seed = cfg.seed}, aug);
  auto sched = make_schedule(*opt, cfg, steps * cfg.epochs);
  std::printf("model: %s, %lld parameters, norm %s, %d threads\n", model->describe().c_str(),
              (long long)model->num_parameters(), cfg.norm.c_str(), num_threads());

  int64_t start_epoch = 0;
  if (ck) {
    check_finite_state(ck->model, cfg.resume);
    check_finite_state(ck->optimizer, cfg.resume);
    try {
      model->load_state_dict(ck->model);
      opt->load_state_dict(ck->optimizer);
    } catch (const Error& e) {
      throw Error(cfg.resume + ": " + e.what());
    }
    sched->set_step(ck->meta.at("schedule_step").get<int64_t>());
    start_epoch = ck->meta.at("epoch").get<int64_t>() + 1;
    std::printf("resumed from %s after epoch %lld\n", cfg.resume.c_str(), (long long)start_epoch);
  }
  if (!out.empty()) {
    const std::string previous =
        start_epoch > 0 ? metrics_until(out / "metrics.jsonl", start_epoch) : "";
    write_text_atomically(out / "config.json", cfg.to_json().dump(2) + "\n");
    write_text_atomically(out / "metrics.jsonl", previous);
  }
  const bool tty = cfg.progress && isatty(fileno(stdout));
  double final_acc = 0;
  const int64_t last_epoch =
      cfg.stop_after_epoch > 0 ? std::min(cfg.stop_after_epoch, cfg.epochs) : cfg.epochs;
  if (start_epoch >= last_epoch)
    std::printf("nothing to train: the checkpoint has done %lld of %d epochs\n",
                (long long)start_epoch, cfg.epochs);
  if (ck) final_acc = ck->meta.value("test_acc", 0.0);
  for (int64_t epoch = start_epoch; epoch < last_epoch; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    model->train();
    loader.start_epoch(epoch);
    const double lr_start = sched->lr();
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, step = 0;
    while (auto batch = loader.next()) {
      opt->zero_grad();
      Tensor logits = (*model)(batch->images);
      Tensor loss = cross_entropy(logits, batch->labels);
      const double l = loss.item();
      if (!std::isfinite(l))
        throw DivergenceError("training diverged at epoch " + std::to_string(epoch + 1) +
                              ", step " + std::to_string(step + 1) + ": loss is " +
                              std::to_string(l) + "; " +
                              diagnose(*model, batch->images, batch->labels) +
                              ". The last good checkpoint is unchanged.");
      loss.backward();
      double grad_sq = 0;
      for (auto& p : model->parameters())
        if (p.grad().defined()) grad_sq += sum(square(p.grad())).item();
      if (!std::isfinite(grad_sq))
        throw DivergenceError("training diverged at epoch " + std::to_string(epoch + 1) +
                              ", step " + std::to_string(step + 1) + ": non-finite gradient; " +
                              diagnose(*model, batch->images, batch->labels) +
                              ". The last good checkpoint is unchanged.");
      opt->step();
      sched->step();
      const int64_t n = int64_t(batch->labels.size());
      loss_sum += l * n;
      correct += int64_t(std::llround(accuracy(logits, batch->labels) * n));
      seen += n;
      ++step;
      if (tty) {
        const double el =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double ips = seen / std::max(el, 1e-9);
        const double remaining =
            (double(steps - step) + double(cfg.epochs - epoch - 1) * steps) * cfg.batch_size / ips;
        std::printf("\repoch %lld/%d  step %lld/%lld  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s   ",
                    (long long)epoch + 1, cfg.epochs, (long long)step, (long long)steps,
                    loss_sum / seen, 100.0 * correct / seen, ips,
                    format_duration(remaining).c_str());
        std::fflush(stdout);
      }
    }
    const double train_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const EvalResult ev = evaluate(*model, *data.test, mean, sd);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    final_acc = ev.accuracy;
    json m = {{"epoch", epoch + 1},
              {"lr", lr_start},
              {"train_loss", loss_sum / seen},
              {"train_acc", double(correct) / seen},
              {"test_loss", ev.loss},
              {"test_acc", ev.accuracy},
              {"seconds", seconds},
              {"img_per_s", seen / train_s}};
    if (tty) std::printf("\r%120s\r", "");
    std::printf(
        "epoch %lld/%d  lr %.4f  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.0f s  "
        "%.0f img/s\n",
        (long long)epoch + 1, cfg.epochs, lr_start, loss_sum / seen, 100.0 * correct / seen,
        ev.loss, 100.0 * ev.accuracy, seconds, seen / train_s);
    std::fflush(stdout);
    if (!out.empty()) {
      append_line(out / "metrics.jsonl", m.dump());
      json meta = {{"epoch", epoch},
                   {"schedule_step", sched->step_count()},
                   {"config", cfg.to_json()},
                   {"mean", mean},
                   {"std", sd},
                   {"classes", data.train->class_names()},
                   {"test_acc", ev.accuracy}};
      save_checkpoint((out / "checkpoint.safetensors").string(), *model, opt->state_dict(), meta);
    }
  }
  return final_acc;
}

}  // namespace nl::apps
