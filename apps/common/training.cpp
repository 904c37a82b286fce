#include "apps/common/training.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <thread>

#include "apps/common/progress.hpp"
#include "apps/common/run_checks.hpp"
#include "apps/common/run_folder.hpp"
#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/dist/communicator.hpp"
#include "core/init.hpp"
#include "core/parallel.hpp"
#include "core/safetensors.hpp"
#include "data/loader.hpp"
#include "layers/dist/data_parallel.hpp"
#include "layers/loss.hpp"
#include "layers/models/resnet.hpp"
#include "layers/optim/schedule.hpp"

namespace nl::apps {
using json = nlohmann::json;

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

}  // namespace

EvalResult evaluate(Module& model, const data::ImageSet& set, const std::vector<float>& mean,
                    const std::vector<float>& std, int batch_size, bool keep_logits,
                    dist::Communicator* comm) {
  check(!comm || comm->size() == 1 || !keep_logits, "evaluate",
        "logits are kept only by a single-process evaluation");
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
  // Under data parallelism each rank evaluates its shard of the test set; the sums are pooled.
  const dist::Shard mine =
      comm ? dist::shard_of(set.size(), comm->rank(), comm->size()) : dist::Shard{0, set.size()};
  for (int64_t start = mine.begin; start < mine.end; start += batch_size) {
    const int64_t n = std::min<int64_t>(batch_size, mine.end - start);
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
  if (comm && comm->size() > 1) {
    std::vector<double> sums = {loss_sum, double(correct)};
    for (const auto& row : r.confusion) sums.insert(sums.end(), row.begin(), row.end());
    comm->allreduce_sum(std::span<double>(sums));
    loss_sum = sums[0], correct = int64_t(sums[1]);
    for (int64_t t = 0; t < k; ++t)
      for (int64_t q = 0; q < k; ++q) r.confusion[t][q] = int64_t(sums[2 + t * k + q]);
  }
  r.loss = loss_sum / set.size();
  r.accuracy = double(correct) / set.size();
  return r;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The run's images, normalized by the training subset's own per-channel statistics.
struct RunData {
  Datasets sets;
  std::vector<float> mean, std;
};

RunData load_run_data(const TrainConfig& cfg, const std::optional<Checkpoint>& ck) {
  const auto t0 = std::chrono::steady_clock::now();
  RunData d{load_cifar(cfg.data), {}, {}};
  d.sets.train->keep_subset(cfg.train_limit);
  d.sets.test->keep_subset(cfg.test_limit);
  const auto stats = d.sets.train->channel_stats();
  d.mean.assign(stats.mean.begin(), stats.mean.end());
  d.std.assign(stats.std.begin(), stats.std.end());
  std::printf("data: %lld train / %lld test images from %s (%.1f s); mean %.4f %.4f %.4f\n",
              (long long)d.sets.train->size(), (long long)d.sets.test->size(), cfg.data.c_str(),
              seconds_since(t0), d.mean[0], d.mean[1], d.mean[2]);
  if (ck) {  // the same classes and the same images as the run being resumed
    if (ck->meta.contains("classes"))
      check_same_classes(ck->meta["classes"].get<std::vector<std::string>>(),
                         d.sets.train->class_names(),
                         cfg.resume + " (the classes it was trained on) and " + cfg.data);
    const InputNormalization saved = checkpoint_normalization(*ck, d.sets.train->channels());
    check(saved.mean == d.mean && saved.std == d.std, "train --resume", cfg.resume,
          " was trained on images with another per-channel mean/std than ", cfg.data,
          " gives now (another training set?)");
  }
  return d;
}

int64_t checked_steps_per_epoch(const TrainConfig& cfg, const data::ImageSet& train) {
  check_memory_budget(cfg, train.num_classes());
  const int64_t steps = train.size() / cfg.batch_size;  // drop_last
  check(steps >= 1, "train", "--batch-size ", cfg.batch_size, " is larger than the ", train.size(),
        " training images (--train-limit ", cfg.train_limit, ")");
  check(cfg.schedule != "onecycle" || steps * cfg.epochs >= 2, "train", "the run has only ",
        steps * cfg.epochs, " optimizer step (--epochs ", cfg.epochs, " x ", steps,
        " batch of --batch-size ", cfg.batch_size, " from ", train.size(),
        " training images); the one-cycle schedule needs at least 2: raise --epochs or "
        "--train-limit, or lower --batch-size");
  return steps;
}

// Restores model, optimizer and schedule; returns the first epoch still to train.
int64_t resume_from(const Checkpoint& ck, Module& model, Optimizer& opt, Schedule& sched) {
  check_finite_state(ck.model, ck.path);
  check_finite_state(ck.optimizer, ck.path);
  try {
    model.load_state_dict(ck.model);
    opt.load_state_dict(ck.optimizer);
  } catch (const Error& e) {
    throw Error(ck.path + ": " + e.what());
  }
  sched.set_step(ck.meta.at("schedule_step").get<int64_t>());
  const int64_t start = ck.meta.at("epoch").get<int64_t>() + 1;
  std::printf("resumed from %s after epoch %lld\n", ck.path.c_str(), (long long)start);
  return start;
}

struct EpochStats {
  double lr_start = 0, loss = 0, accuracy = 0, seconds = 0;
  int64_t seen = 0;  // over every rank
  // Per step, under data parallelism: the whole step, the gradient allreduce, and the rest of
  // the communication (SyncBatchNorm's exchanges), in seconds (rank 0's clock).
  std::vector<double> step_s, allreduce_s, sync_bn_s;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One pass over the loader: forward, loss, backward, optimizer and schedule step per batch.
// Under data parallelism each rank runs this on its shard of every batch: buffers follow rank
// 0, each rank's loss is weighted by its share of the global batch, and the gradients are
// summed over the ranks before the step (layers/dist/data_parallel.hpp).
EpochStats train_one_epoch(Module& model, Optimizer& opt, Schedule& sched, data::DataLoader& loader,
                           dist::DataParallel& dp, int64_t global_batch, int64_t epoch,
                           ProgressLine& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool parallel = dp.comm().size() > 1;
  const bool timed = dist::launched_by_mpi();  // the per-step split of metrics.jsonl
  model.train();
  loader.start_epoch(epoch);
  progress.start_epoch(epoch);
  EpochStats e;
  e.lr_start = sched.lr();
  double loss_sum = 0;
  int64_t correct = 0, step = 0, seen = 0;
  while (auto batch = loader.next()) {
    ++step;
    const auto step_t0 = std::chrono::steady_clock::now();
    const double comm0 = dist::seconds_communicating_all(), reduce0 = dp.allreduce_seconds(),
                 bcast0 = dp.broadcast_seconds();
    dp.broadcast_buffers();
    opt.zero_grad();
    const Tensor logits = model(batch->images);
    Tensor loss = cross_entropy(logits, batch->labels);
    const double l = loss.item();
    check_finite_step(l, StepValue::loss, epoch + 1, step, model, batch->images, batch->labels);
    const int64_t n = int64_t(batch->labels.size());
    if (parallel)
      (loss * (double(n) / double(global_batch))).backward();
    else
      loss.backward();
    dp.allreduce_gradients();
    double grad_sq = 0;
    for (auto& p : model.parameters())
      if (p.grad().defined()) grad_sq += sum(square(p.grad())).item();
    check_finite_step(grad_sq, StepValue::gradient, epoch + 1, step, model, batch->images,
                      batch->labels);
    opt.step();
    sched.step();
    loss_sum += l * n;
    correct += int64_t(std::llround(accuracy(logits, batch->labels) * n));
    seen += n;
    progress.step(step, loss_sum / seen, double(correct) / seen, seen * dp.comm().size());
    if (timed) {
      const double reduce = dp.allreduce_seconds() - reduce0;
      const double others =
          dist::seconds_communicating_all() - comm0 - reduce - (dp.broadcast_seconds() - bcast0);
      e.step_s.push_back(seconds_since(step_t0));
      e.allreduce_s.push_back(reduce);
      e.sync_bn_s.push_back(std::max(0.0, others));
    }
  }
  // Rank 0's statistics for every replica before evaluating and saving; the epoch's sums
  // pooled over the ranks.
  dp.broadcast_buffers();
  std::vector<double> sums = {loss_sum, double(correct), double(seen)};
  dp.comm().allreduce_sum(std::span<double>(sums));
  e.seen = int64_t(sums[2]);
  e.loss = sums[0] / double(e.seen);
  e.accuracy = sums[1] / double(e.seen);
  e.seconds = seconds_since(t0);
  return e;
}

// The standard recipe's crop: 32x32 from the image padded by 4, the padding as --crop-fill says.
data::TransformPtr crop_transform(const std::string& fill, const std::vector<float>& mean) {
  if (fill == "zero") return data::RandomCrop(32, 4);
  if (fill == "mean") return data::RandomCrop(32, 4, data::CropFill::value, mean);
  if (fill == "reflect") return data::RandomCrop(32, 4, data::CropFill::reflect);
  throw Error("train: --crop-fill must be zero, mean or reflect, got '" + fill + "'");
}

}  // namespace

data::Compose training_transforms(const std::string& crop_fill, const std::vector<float>& mean,
                                  const std::vector<float>& std) {
  return data::Compose(
      {crop_transform(crop_fill, mean), data::RandomHorizontalFlip(), data::Normalize(mean, std)});
}

namespace {
void check_recalibrate_images(int64_t images, int64_t batch, int64_t train_images) {
  check(images >= batch && images <= train_images, "--recalibrate", "needs between one batch (",
        batch, " images) and the training set (", train_images, " images), got ", images);
}
}  // namespace

RecomputedStats recalibrate_running_stats(Module& model, const data::ImageSet& train,
                                          const TrainConfig& config, const std::vector<float>& mean,
                                          const std::vector<float>& std, int64_t images, bool plain,
                                          int64_t epoch) {
  const int64_t batch = config.batch_size;
  check_recalibrate_images(images, batch, train.size());
  const dist::Communicator& comm = dist::world();
  data::DataLoader loader(train,
                          {.batch_size = batch,
                           .shuffle = true,
                           .drop_last = true,
                           .seed = config.seed,
                           .rank = comm.rank(),
                           .ranks = comm.size()},
                          plain ? data::Compose({data::Normalize(mean, std)})
                                : training_transforms(config.crop_fill, mean, std));
  loader.start_epoch(epoch);
  int64_t left = images / batch;
  return recompute_running_stats(model, [&]() -> std::optional<Tensor> {
    if (left-- <= 0) return std::nullopt;
    std::optional<data::Batch> b = loader.next();
    if (!b) return std::nullopt;
    return b->images;
  });
}

namespace {

// The settings, once every one of them has been checked; the thread count applied.
TrainConfig checked_settings(const TrainConfig& cfg) {
  check_settings(cfg);
  const dist::Communicator& world = dist::world();
  check(cfg.batch_size >= world.size(), "train", "--batch-size ", cfg.batch_size,
        " is the global batch and cannot give each of the ", world.size(),
        " ranks a sample: raise it or start fewer ranks");
  // Ranks on one host share its cores: by default each takes its part of them.
  int threads = cfg.threads;
  if (threads == 0 && world.size() > 1)
    threads = std::max(1, int(std::thread::hardware_concurrency()) / dist::ranks_on_this_host());
  set_num_threads(threads);
  return cfg;
}

// The checkpoint of --resume, refused unless it is the same run (every run-defining setting).
std::optional<Checkpoint> checked_resume(const TrainConfig& cfg) {
  if (cfg.resume.empty()) return std::nullopt;
  Checkpoint ck = load_checkpoint(cfg.resume);
  check_resume_compatible(ck, cfg);
  check_resume_world_size(ck, cfg, dist::world().size());
  return ck;
}

// The model, initialised from --seed.
ModulePtr seeded_model(const TrainConfig& cfg, int64_t classes) {
  manual_seed(cfg.seed);
  return make_model(cfg.model, cfg.arch_for(classes));
}

// Everything a run needs, prepared (and every setting checked) before the first file is
// written: data, model, optimizer and schedule (restored from --resume), loader, output folder.
struct TrainingRun {
  explicit TrainingRun(const TrainConfig& c)
      : cfg(checked_settings(c)),
        comm(dist::world()),
        folder(comm.rank() == 0 ? cfg.out : ""),  // only rank 0 writes
        resumed(checked_resume(cfg)),
        data(load_run_data(cfg, resumed)),
        steps(checked_steps_per_epoch(cfg, *data.sets.train)),
        model(seeded_model(cfg, data.sets.train->num_classes())),
        opt(make_optimizer(*model, cfg)),
        sched(make_schedule(*opt, cfg, steps * cfg.epochs)),
        loader(*data.sets.train,
               {.batch_size = cfg.batch_size,
                .shuffle = true,
                .drop_last = true,
                .seed = cfg.seed,
                .rank = comm.rank(),
                .ranks = comm.size()},
               training_transforms(cfg.crop_fill, data.mean, data.std)),
        // (no progress bar under an MPI launcher: its forwarded output looks like a terminal)
        progress(cfg.progress && !dist::launched_by_mpi(), cfg.epochs, steps, cfg.batch_size),
        first_epoch(resumed ? resume_from(*resumed, *model, *opt, *sched) : 0),
        last_epoch(cfg.stop_after_epoch > 0 ? std::min(cfg.stop_after_epoch, cfg.epochs)
                                            : cfg.epochs),
        dp(*model, dist::world_groups(0)) {
    if (cfg.recalibrate > 0)  // refused now, not after the first epoch
      check_recalibrate_images(cfg.recalibrate, cfg.batch_size, data.sets.train->size());
    std::printf("model: %s, %lld parameters, norm %s, %d threads\n", model->describe().c_str(),
                (long long)model->num_parameters(), cfg.arch.norm.c_str(), num_threads());
    if (comm.size() > 1)
      std::printf(
          "data parallel: %d ranks (%s), %d threads each, %lld samples per rank of "
          "each global batch of %d\n",
          comm.size(), comm.backend().c_str(), num_threads(),
          (long long)(cfg.batch_size / comm.size()), cfg.batch_size);
    if (first_epoch >= last_epoch)
      std::printf("nothing to train: the checkpoint has done %lld of %d epochs\n",
                  (long long)first_epoch, cfg.epochs);
    folder.begin(cfg.to_json(), first_epoch);
  }

  // The test set's score with the running statistics recomputed (--recalibrate); the model's
  // buffers are put back afterwards, so training and checkpoints do not depend on it.
  EvalResult score_recalibrated(int64_t epoch) {
    NamedTensors kept = model->named_buffers();
    for (auto& [name, buffer] : kept) buffer = buffer.clone();
    recalibrate_running_stats(*model, *data.sets.train, cfg, data.mean, data.std, cfg.recalibrate,
                              /*plain=*/false, epoch);
    EvalResult r = evaluate(*model, *data.sets.test, data.mean, data.std, 500, false, &comm);
    const NamedTensors now = model->named_buffers();
    for (size_t i = 0; i < now.size(); ++i) Tensor(now[i].second).copy_(kept[i].second);
    return r;
  }

  // Prints the epoch's line, appends it to metrics.jsonl and writes the checkpoint.
  void record_epoch(int64_t epoch, const EpochStats& fit, const EvalResult& test,
                    const std::optional<EvalResult>& recalibrated, double seconds) {
    progress.clear();
    std::printf(
        "epoch %lld/%d  lr %.4f  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.0f s  "
        "%.0f img/s",
        (long long)epoch + 1, cfg.epochs, fit.lr_start, fit.loss, 100.0 * fit.accuracy, test.loss,
        100.0 * test.accuracy, seconds, fit.seen / fit.seconds);
    if (recalibrated)
      std::printf("  (recomputed statistics: test acc %.2f%%)", 100.0 * recalibrated->accuracy);
    std::printf("\n");
    std::fflush(stdout);
    json metrics = {{"epoch", epoch + 1},     {"lr", fit.lr_start},
                    {"train_loss", fit.loss}, {"train_acc", fit.accuracy},
                    {"test_loss", test.loss}, {"test_acc", test.accuracy},
                    {"seconds", seconds},     {"img_per_s", fit.seen / fit.seconds}};
    if (recalibrated) {
      metrics["test_loss_recalibrated"] = recalibrated->loss;
      metrics["test_acc_recalibrated"] = recalibrated->accuracy;
    }
    if (dist::launched_by_mpi()) {  // medians over the epoch's steps (docs/distributed.md)
      metrics["world_size"] = comm.size();
      metrics["step_s"] = median(fit.step_s);
      metrics["allreduce_s"] = median(fit.allreduce_s);
      metrics["sync_bn_s"] = median(fit.sync_bn_s);
    }
    const json checkpoint_meta = {
        {"epoch", epoch},           {"schedule_step", sched->step_count()},
        {"config", cfg.to_json()},  {"mean", data.mean},
        {"std", data.std},          {"classes", data.sets.train->class_names()},
        {"test_acc", test.accuracy}};
    folder.record_epoch(metrics, *model, opt->state_dict(), checkpoint_meta);
  }

  const TrainConfig cfg;
  dist::Communicator& comm;
  RunFolder folder;
  const std::optional<Checkpoint> resumed;
  const RunData data;
  const int64_t steps;  // optimizer steps per epoch
  ModulePtr model;
  std::unique_ptr<Optimizer> opt;
  std::unique_ptr<Schedule> sched;
  data::DataLoader loader;
  ProgressLine progress;
  const int64_t first_epoch, last_epoch;
  dist::DataParallel dp;  // after the resume: broadcasts rank 0's restored state
};

}  // namespace

// The training loop: one pass over the training set, one evaluation on the test set, and the
// epoch recorded (metrics line and checkpoint), until the last epoch.
double run_training(const TrainConfig& cfg) {
  TrainingRun run(cfg);
  double test_accuracy = run.resumed ? run.resumed->meta.value("test_acc", 0.0) : 0.0;
  for (int64_t epoch = run.first_epoch; epoch < run.last_epoch; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const EpochStats fit = train_one_epoch(*run.model, *run.opt, *run.sched, run.loader, run.dp,
                                           run.cfg.batch_size, epoch, run.progress);
    run.dp.check_replicas_identical("after epoch " + std::to_string(epoch + 1));
    const EvalResult test = evaluate(*run.model, *run.data.sets.test, run.data.mean, run.data.std,
                                     500, false, &run.comm);
    std::optional<EvalResult> recalibrated;
    if (run.cfg.recalibrate > 0) recalibrated = run.score_recalibrated(epoch);
    run.record_epoch(epoch, fit, test, recalibrated, seconds_since(t0));
    test_accuracy = test.accuracy;
  }
  return test_accuracy;
}

}  // namespace nl::apps
