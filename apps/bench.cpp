// bench: times full training steps (forward, backward, SGD step) and inference of a model on
// random data after warm-up, and prints one JSON line. After the timed runs, --profile-iters more
// training steps run with the profiler on (autograd/profiler.hpp) and give the per-layer-type
// forward/backward breakdown in milliseconds per step; they do not count towards the throughput.
//   bench --model resnet20 --norm bn --batch-size 128 --threads 2 --iters 20
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "apps/common/guarded_main.hpp"
#include "apps/common/noisy_batch_norm.hpp"
#include "autograd/node.hpp"
#include "autograd/profiler.hpp"
#include "core/init.hpp"
#include "core/parallel.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/loss.hpp"
#include "layers/models/resnet.hpp"
#include "layers/optim/optimizer.hpp"

namespace {
long peak_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// Starts a new peak: the heap's free pages go back to the system (malloc_trim), then VmHWM
// restarts from the current RSS (Linux's clear_refs "5"), so inference reports its own peak
// rather than the training's.
void reset_peak_rss() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

// {"Conv2d": {"forward_ms": 1.2, "backward_ms": 3.4}, ...} per step, slowest backward first.
std::string breakdown_json(int steps) {
  auto times = nl::profiler::report();
  std::vector<std::pair<std::string, nl::profiler::LayerTimes>> rows(times.begin(), times.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second.forward_s + a.second.backward_s > b.second.forward_s + b.second.backward_s;
  });
  std::string out = "{";
  char buf[256];
  for (size_t i = 0; i < rows.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s\"%s\": {\"forward_ms\": %.2f, \"backward_ms\": %.2f}",
                  i ? ", " : "", rows[i].first.c_str(), 1e3 * rows[i].second.forward_s / steps,
                  1e3 * rows[i].second.backward_s / steps);
    out += buf;
  }
  return out + "}";
}
int run(int argc, char** argv) {
  CLI::App app{"normlab bench: training and inference throughput on random data"};
  std::string model = "resnet20", norm = "bn", residual = "plain";
  int batch = 128, threads = 0, iters = 10, warmup = 2, width = 16, profile_iters = 2;
  app.add_option("--model", model, "resnet20|...|vgg<depth>");
  app.add_option("--norm", norm, "normalizer spec");
  app.add_option("--residual", residual, "ResNets: plain | skipinit | fixup (as train's)")
      ->check(CLI::IsMember({"plain", "skipinit", "fixup"}));
  app.add_option("--batch-size", batch);
  app.add_option("--width", width);
  app.add_option("--threads", threads, "0 = all cores");
  app.add_option("--iters", iters);
  app.add_option("--warmup", warmup);
  std::string conv = "auto";
  app.add_option("--conv", conv,
                 "convolution algorithm: auto (Winograd where it applies) | im2col | winograd_2x2 "
                 "(F(2x2) Winograd instead of F(4x4) on the 3x3 stride-1 convolutions)")
      ->check(CLI::IsMember({"auto", "im2col", "winograd_2x2"}));
  app.add_option("--profile-iters", profile_iters,
                 "extra profiled training steps for the per-layer breakdown (0 = none)");
  CLI11_PARSE(app, argc, argv);
  try {
    nl::register_noisy_batch_norm();  // the probes' experiment normalizer, trainable in train
    nl::set_num_threads(threads);
    nl::manual_seed(0);
    auto net = nl::make_model(model, {.width = width, .norm = norm, .residual = residual});
    for (auto& [name, m] : net->named_modules())
      if (auto* c = dynamic_cast<nl::Conv2d*>(m.get())) {
        if (conv == "im2col") c->options.algorithm = nl::ConvAlgorithm::im2col;
        if (conv == "winograd_2x2" && c->kernel_size == 3 && c->options.stride[0] == 1)
          c->options.algorithm = nl::ConvAlgorithm::winograd_2x2;
      }
    nl::ParamGroup group;
    group.params = net->parameters();
    group.lr = 0.01;
    group.momentum = 0.9;
    nl::SGD opt({group});
    nl::Generator gen(1);
    nl::Tensor x = nl::Tensor::randn({batch, 3, 32, 32}, gen);
    std::vector<int64_t> labels(batch);
    for (int i = 0; i < batch; ++i) labels[i] = i % 10;
    using clock = std::chrono::steady_clock;
    auto train_step = [&] {
      opt.zero_grad();
      nl::Tensor loss = nl::cross_entropy((*net)(x), labels);
      loss.backward();
      opt.step();
    };
    for (int i = 0; i < warmup; ++i) train_step();
    auto t0 = clock::now();
    for (int i = 0; i < iters; ++i) train_step();
    const double train_s = std::chrono::duration<double>(clock::now() - t0).count();
    nl::profiler::enable(true);
    double optimizer_s = 0;
    for (int i = 0; i < profile_iters; ++i) {
      opt.zero_grad();
      nl::Tensor loss = nl::cross_entropy((*net)(x), labels);
      loss.backward();
      const auto started = clock::now();
      opt.step();
      optimizer_s += std::chrono::duration<double>(clock::now() - started).count();
    }
    nl::profiler::enable(false);
    const std::string breakdown = breakdown_json(std::max(profile_iters, 1));
    const double train_peak_mib = peak_rss_kib() / 1024.0;
    // Inference as users run it: eval mode, no graph (normalizers folded into convolutions).
    opt.zero_grad();
    net->eval();
    nl::NoGradGuard no_grad;
    reset_peak_rss();
    for (int i = 0; i < warmup; ++i) (*net)(x);
    t0 = clock::now();
    for (int i = 0; i < iters; ++i) (*net)(x);
    const double infer_s = std::chrono::duration<double>(clock::now() - t0).count();
    const double infer_peak_mib = peak_rss_kib() / 1024.0;
    nl::profiler::reset();
    nl::profiler::enable(true);
    for (int i = 0; i < std::max(profile_iters, 1); ++i) (*net)(x);
    nl::profiler::enable(false);
    const std::string infer_breakdown = breakdown_json(std::max(profile_iters, 1));
    std::printf(
        "{\"model\": \"%s\", \"norm\": \"%s\", \"residual\": \"%s\", \"conv\": \"%s\", "
        "\"batch_size\": %d, \"threads\": %d, "
        "\"train_img_per_s\": %.1f, \"infer_img_per_s\": %.1f, \"peak_rss_mib\": %.1f, "
        "\"infer_peak_rss_mib\": %.1f, \"train_step_ms_by_layer\": %s, \"optimizer_step_ms\": "
        "%.2f, \"infer_ms_by_layer\": %s}\n",
        model.c_str(), norm.c_str(), residual.c_str(), conv.c_str(), batch, nl::num_threads(),
        iters * batch / train_s, iters * batch / infer_s, train_peak_mib, infer_peak_mib,
        breakdown.c_str(), 1e3 * optimizer_s / std::max(profile_iters, 1), infer_breakdown.c_str());
  } catch (const std::exception& e) {
    std::cerr << "bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nl::apps::guarded_main("bench", [&] { return run(argc, argv); });
}
