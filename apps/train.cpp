// train: the main job of normlab. Trains a CIFAR ResNet (or plain VGG) with any normalizer.
//   train                                   # a few-minute demo on ../shared/datasets/cifar10-jpeg
//   train --norm gn:groups=8 --epochs 30 --out runs/gn8
//   train --list-norms
//   mpirun -np 4 train --norm sbn ...         # data-parallel over 4 ranks (docs/distributed.md)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/common/checkpoint.hpp"
#include "apps/common/guarded_main.hpp"
#include "apps/common/noisy_batch_norm.hpp"
#include "apps/common/run_checks.hpp"
#include "apps/common/training.hpp"
#include "core/dist/communicator.hpp"
#include "layers/norm/factory.hpp"

namespace {
std::string default_data_dir() {
  for (const char* p : {"../shared/datasets/cifar10-jpeg", "../../shared/datasets/cifar10-jpeg",
                        "../../../shared/datasets/cifar10-jpeg"})
    if (std::filesystem::is_directory(p)) return p;
  return "";
}
// Resuming continues the checkpoint's run: every run-defining setting not given on the command
// line is taken from the checkpoint; those given must equal it (run_training checks).
nl::apps::TrainConfig settings_for_resume(const CLI::App& app, const nl::apps::TrainConfig& c) {
  const nl::apps::Checkpoint ck = nl::apps::load_checkpoint(c.resume);
  const nlohmann::json& saved = ck.meta.at("config");
  nlohmann::json merged = c.to_json();
  auto keys = nl::apps::run_defining_settings();
  keys.push_back("data");
  for (const std::string& key : keys) {
    if (saved.contains(key) && app.count(nl::apps::flag_name(key)) == 0) merged[key] = saved[key];
  }
  nl::apps::TrainConfig r = nl::apps::TrainConfig::from_json(merged);
  r.out = c.out, r.resume = c.resume, r.threads = c.threads, r.progress = c.progress;
  if (!std::filesystem::is_directory(r.data) && std::filesystem::is_directory(c.data))
    r.data = c.data;  // the checkpoint's data path is gone (another machine): use the default
  return r;
}

// "train: " before a message that does not already start with it.
std::string prefixed(const std::string& prefix, const std::string& message) {
  return message.rfind(prefix, 0) == 0 ? message : prefix + message;
}

int run(int argc, char** argv) {
  nl::register_noisy_batch_norm();  // the probes' experiment normalizer, also trainable
  nl::apps::TrainConfig c;
  // The no-flag demo: a few minutes of ResNet-20 on 10k images that visibly learns.
  c.epochs = 3;
  c.train_limit = 10000;
  c.test_limit = 2000;
  c.data = default_data_dir();
  CLI::App app{"normlab train: ResNet/VGG on CIFAR-10 with any normalizer"};
  bool list = false;
  // A flag given twice takes its last value, as in most command lines (handy after a pasted
  // command: `... --batch-size 64`).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--data", c.data, "image folder (train/, test/) or CIFAR-10 binary folder");
  app.add_option("--model", c.model, "resnet20|resnet32|resnet44|resnet56|resnet110|vgg<depth>");
  app.add_option("--width", c.arch.width,
                 "base width w (stages w, 2w, 4w); runs that would not fit in memory are refused")
      ->check(CLI::Range(1, 4096));
  app.add_option("--norm", c.arch.norm,
                 "normalizer spec, e.g. bn, gn:groups=8, ln (see --list-norms)");
  app.add_option("--residual", c.arch.residual,
                 "ResNet remedy for training without (or with) normalization: plain, skipinit "
                 "(zero-initialised residual gain) or fixup")
      ->check(CLI::IsMember({"plain", "skipinit", "fixup"}));
  app.add_flag("--kaiming-normal", c.arch.kaiming_normal,
               "initialise convolutions Kaiming-normal (fan_in, ReLU gain) instead of PyTorch's "
               "default (the probes' init; makes unnormalized deep ResNets explode)");
  app.add_option("--epochs", c.epochs)->check(CLI::Range(1, 100000));
  app.add_option("--batch-size", c.batch_size,
                 "the global batch: under mpirun -np K each rank takes its 1/K of every batch")
      ->check(CLI::Range(2, 65536));
  app.add_option("--lr", c.lr, "peak learning rate")->check(CLI::NonNegativeNumber);
  app.add_option("--momentum", c.momentum)->check(CLI::Range(0.0, 1.0));
  app.add_flag("--nesterov,!--no-nesterov", c.nesterov, "Nesterov momentum (default on)");
  app.add_option("--wd", c.wd, "weight decay")->check(CLI::NonNegativeNumber);
  app.add_flag("--wd-skip-norm-bias", c.wd_skip_norm_bias,
               "no weight decay on norm parameters and biases");
  app.add_option("--agc", c.agc,
                 "adaptive gradient clipping factor (e.g. 0.01; classifier excluded; 0 = off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--schedule", c.schedule)->check(CLI::IsMember({"onecycle", "cosine", "step"}));
  app.add_option("--optimizer", c.optimizer)->check(CLI::IsMember({"sgd", "adamw"}));
  app.add_option("--crop-fill", c.crop_fill,
                 "what pads the random crop: zero (black, as torchvision), mean (the training "
                 "set's mean, 0 after normalization) or reflect")
      ->check(CLI::IsMember({"zero", "mean", "reflect"}));
  app.add_option("--pct-start", c.pct_start, "one-cycle warm-up fraction")
      ->check(CLI::Range(0.01, 0.99));
  app.add_option("--seed", c.seed);
  app.add_option("--threads", c.threads,
                 "threads per process; 0 = all cores (under mpirun: the cores of the host "
                 "divided among its ranks)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--train-limit", c.train_limit,
                 "train on a fixed random subset of N images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--test-limit", c.test_limit,
                 "test on a fixed random subset of N images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--recalibrate", c.recalibrate,
                 "also score each epoch with the running statistics recomputed over N training "
                 "images (precise BN; metrics: test_acc_recalibrated); training is unchanged")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--out", c.out, "folder for metrics.jsonl, config.json and checkpoints");
  app.add_option("--resume", c.resume,
                 "checkpoint to continue from; settings not given are taken from it, settings "
                 "given must equal its own")
      ->check(CLI::ExistingFile);
  app.add_option("--stop-after-epoch", c.stop_after_epoch,
                 "stop after this epoch as if interrupted (the schedule still spans --epochs; "
                 "continue with --resume); 0 = run to the end")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--list-norms", list, "print the available normalizers and exit");
  CLI11_PARSE(app, argc, argv);
  if (list) {
    std::cout << nl::list_norms_text();
    return 0;
  }
  if (app.count("--epochs") && !app.count("--train-limit")) c.train_limit = 0;
  if (app.count("--epochs") && !app.count("--test-limit")) c.test_limit = 0;
  // Under mpirun only rank 0 prints (and writes files); a rank that fails ends the whole job
  // with its message and exit code (MPI_Abort), so no other rank waits for it forever.
  nl::dist::Communicator* world = nullptr;
  const auto fail = [&](const std::string& message, int code) {
    const bool parallel = world && world->size() > 1;
    std::string text = prefixed("train: ", message);
    if (parallel)  // "train: ..." -> "train (rank 1 of 4): ..."
      text = "train (rank " + std::to_string(world->rank()) + " of " +
             std::to_string(world->size()) + "): " + text.substr(7);
    std::cerr << text << "\n";
    if (parallel) world->abort(code);
    return code;
  };
  try {
    world = &nl::dist::world();
    if (world->rank() != 0 && !std::freopen("/dev/null", "w", stdout))
      throw nl::Error("cannot silence rank " + std::to_string(world->rank()) + "'s output");
    if (!c.resume.empty()) c = settings_for_resume(app, c);
    const double acc = nl::apps::run_training(c);
    std::printf("final test accuracy %.2f%%\n", 100 * acc);
  } catch (const nl::apps::DivergenceError& e) {
    return fail(e.what(), 3);
  } catch (const std::exception& e) {
    return fail(e.what(), 2);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nl::apps::guarded_main("train", [&] { return run(argc, argv); });
}
