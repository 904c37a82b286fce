// The training job end to end on a few hundred synthetic CIFAR-binary images: outputs,
// checkpoint round trip, bit-identical resume, and divergence reporting.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "apps/common/batchsweep.hpp"
#include "apps/common/groupsweep.hpp"
#include "apps/common/ics.hpp"
#include "apps/common/landscape.hpp"
#include "apps/common/noisy_batch_norm.hpp"
#include "apps/common/run_folder.hpp"
#include "apps/common/training.hpp"
#include "autograd/ops.hpp"
#include "core/safetensors.hpp"
#include "helpers.hpp"
#include "layers/models/resnet.hpp"

using namespace nl;
namespace fs = std::filesystem;

namespace {

// A learnable toy CIFAR: the label sets the brightness of one colour plane, plus noise.
fs::path write_toy_cifar(const std::string& name, int per_batch) {
  const fs::path dir =
      fs::temp_directory_path() / ("normlab_train_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Generator g(5);
  auto batch = [&](const fs::path& file) {
    std::ofstream f(file, std::ios::binary);
    for (int i = 0; i < per_batch; ++i) {
      const uint8_t label = uint8_t(g.below(10));
      f.put(char(label));
      for (int c = 0; c < 3; ++c)
        for (int p = 0; p < 1024; ++p) {
          const int base = c == label % 3 ? 20 * label : 100;
          f.put(char(uint8_t(std::clamp<int>(base + int(g.below(40)), 0, 255))));
        }
    }
  };
  for (int b = 1; b <= 5; ++b) batch(dir / ("data_batch_" + std::to_string(b) + ".bin"));
  batch(dir / "test_batch.bin");
  return dir;
}

apps::TrainConfig small_config(const fs::path& data, const fs::path& out) {
  apps::TrainConfig c;
  c.data = data.string();
  c.model = "resnet8";
  c.arch.width = 4;
  c.epochs = 2;
  c.batch_size = 32;
  c.out = out.string();
  c.progress = false;
  return c;
}

}  // namespace

TEST_SUITE("train") {
  TEST_CASE("train runs end to end; writes its outputs; and resumes bit-identically") {
    const fs::path data = write_toy_cifar("data", 64);  // 320 train, 64 test images
    const fs::path straight = data / "straight", interrupted = data / "interrupted";
    apps::TrainConfig c = small_config(data, straight);
    apps::run_training(c);
    const auto full = apps::read_metrics(straight / "metrics.jsonl");
    REQUIRE(full.size() == 2);
    for (const char* key : {"epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
                            "seconds", "img_per_s"})
      CHECK(full[0].contains(key));
    CHECK(full[1]["train_loss"].get<double>() < full[0]["train_loss"].get<double>());
    const auto config = nlohmann::json::parse(std::ifstream(straight / "config.json"));
    CHECK(config["norm"] == "bn");
    CHECK(config.contains("git_commit"));

    // The checkpoint is a valid safetensors file that loads into a fresh model.
    const auto ck = apps::load_checkpoint((straight / "checkpoint.safetensors").string());
    auto model = make_model("resnet8", 4, "bn");
    model->load_state_dict(ck.model);
    CHECK(ck.meta["epoch"] == 1);
    CHECK(ck.optimizer.count("group.0.lr") == 1);
    // Counters are stored as int64, as PyTorch writes num_batches_tracked.
    const SafetensorsFile raw = load_safetensors((straight / "checkpoint.safetensors").string());
    CHECK(raw.int64_tensors.count("model.bn1.num_batches_tracked") == 1);
    CHECK(raw.int64_tensors.count("model.bn1.running_mean") == 0);
    CHECK(raw.tensors.at("model.bn1.num_batches_tracked").item() == 2 * 10);  // 2 epochs x 10

    // Interrupt after epoch 1 (same 2-epoch schedule), then resume: identical metrics.
    apps::TrainConfig first = small_config(data, interrupted);
    first.stop_after_epoch = 1;
    apps::run_training(first);
    CHECK(apps::read_metrics(interrupted / "metrics.jsonl").size() == 1);
    apps::TrainConfig resumed = small_config(data, interrupted);
    resumed.resume = (interrupted / "checkpoint.safetensors").string();
    apps::run_training(resumed);
    const auto again = apps::read_metrics(interrupted / "metrics.jsonl");
    REQUIRE(again.size() == 2);
    for (int e = 0; e < 2; ++e)
      for (const char* key : {"epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc"})
        CHECK(again[e][key] == full[e][key]);
    fs::remove_all(data);
  }

  TEST_CASE("stateful normalizers and remedies resume bit-identically (their state is saved)") {
    const fs::path data = write_toy_cifar("stateful", 32);
    // cbn: the window of past statistics; online: the streams and control variables;
    // pn: the no-decay group; fixup + agc: extra parameters and the clipped groups.
    for (const char* norm : {"cbn:window=2,burnin=0", "online", "pn:ln"}) {
      CAPTURE(norm);
      apps::TrainConfig straight = small_config(data, data / "straight");
      straight.arch.norm = norm;
      straight.arch.residual = std::string(norm) == "pn:ln" ? "fixup" : "plain";
      straight.agc = std::string(norm) == "pn:ln" ? 0.01 : 0.0;
      apps::run_training(straight);
      apps::TrainConfig first = straight;
      first.out = (data / "interrupted").string();
      first.stop_after_epoch = 1;
      apps::run_training(first);
      apps::TrainConfig resumed = straight;
      resumed.out = first.out;
      resumed.resume = (data / "interrupted" / "checkpoint.safetensors").string();
      apps::run_training(resumed);
      const auto full = apps::read_metrics(data / "straight" / "metrics.jsonl");
      const auto again = apps::read_metrics(data / "interrupted" / "metrics.jsonl");
      REQUIRE(again.size() == 2);
      for (const char* key : {"train_loss", "test_loss", "test_acc"})
        CHECK(again[1][key] == full[1][key]);
      fs::remove_all(data / "straight");
      fs::remove_all(data / "interrupted");
    }
    fs::remove_all(data);
  }

  TEST_CASE("--recalibrate scores each epoch twice and leaves training and checkpoint alone") {
    const fs::path data = write_toy_cifar("recalibrate", 64);
    apps::TrainConfig plain = small_config(data, data / "plain");
    plain.arch.norm = "cbn:window=2,burnin=0";
    apps::run_training(plain);
    apps::TrainConfig scored = plain;
    scored.out = (data / "scored").string();
    scored.recalibrate = 64;
    apps::run_training(scored);
    const auto a = apps::read_metrics(data / "plain" / "metrics.jsonl");
    const auto b = apps::read_metrics(data / "scored" / "metrics.jsonl");
    REQUIRE(b.size() == 2);
    for (size_t e = 0; e < 2; ++e) {
      for (const char* key : {"train_loss", "test_loss", "test_acc"}) CHECK(a[e][key] == b[e][key]);
      CHECK_FALSE(a[e].contains("test_acc_recalibrated"));
      const double acc = b[e].at("test_acc_recalibrated").get<double>();
      CHECK((acc >= 0 && acc <= 1));
    }
    const auto ck_a = apps::load_checkpoint((data / "plain" / "checkpoint.safetensors").string());
    const auto ck_b = apps::load_checkpoint((data / "scored" / "checkpoint.safetensors").string());
    for (const auto& [name, t] : ck_a.model) CHECK(test::max_abs_diff(t, ck_b.model.at(name)) == 0);
    // An impossible image count is refused before training.
    scored.recalibrate = 8;
    CHECK_THROWS_WITH_AS(apps::run_training(scored),
                         doctest::Contains("--recalibrate: needs between one batch (32 images)"),
                         Error);
    fs::remove_all(data);
  }

  TEST_CASE("divergence is caught; named; and leaves the last checkpoint intact") {
    const fs::path data = write_toy_cifar("diverge", 64);
    apps::TrainConfig c = small_config(data, data / "run");
    c.arch.norm = "none";
    c.stop_after_epoch = 1;
    apps::run_training(c);  // one good epoch and its checkpoint
    const fs::path ck = data / "run" / "checkpoint.safetensors";
    // A run whose learning rate blows up in epoch 2: the checkpoint records the same setting,
    // so that resuming is allowed.
    SafetensorsFile f = load_safetensors(ck.string());
    auto meta = nlohmann::json::parse(f.metadata["normlab"]);
    meta["config"]["lr"] = 1e8;
    f.metadata["normlab"] = meta.dump();
    save_safetensors(ck.string(), f);
    const auto before = fs::last_write_time(ck);
    c.stop_after_epoch = 0;
    c.resume = ck.string();
    c.lr = 1e8;
    std::string message;
    try {
      apps::run_training(c);
    } catch (const apps::DivergenceError& e) {
      message = e.what();
    }
    MESSAGE(message);
    CHECK(message.find("training diverged at epoch 2, step") != std::string::npos);
    CHECK(message.find("layer") != std::string::npos);
    CHECK(fs::last_write_time(ck) == before);
    CHECK(apps::load_checkpoint(ck.string()).meta["epoch"] == 0);
    fs::remove_all(data);
  }

  TEST_CASE("probe groupsweep: one short run per normalizer; rows per epoch; divergence named") {
    const fs::path data = write_toy_cifar("sweep", 32);
    apps::GroupSweepConfig sweep;
    sweep.base = small_config(data, "");
    sweep.base.epochs = 2;
    sweep.norms = {"gn:group_size=2", "ln"};
    sweep.out = (data / "out").string();
    const auto rows = apps::run_groupsweep(sweep);
    CHECK(rows.size() == 2 * 2 * 2);  // norms x epochs x {test_acc, train_loss}
    CHECK(fs::exists(data / "out" / "groupsweep" / "gn_group_size_2" / "metrics.jsonl"));
    // A learning rate that blows up: the run stops and the sweep records where.
    sweep.norms = {"none"};
    sweep.base.lr = 1e6;
    const auto diverged = apps::run_groupsweep(sweep);
    REQUIRE_FALSE(diverged.empty());
    CHECK(diverged.back().metric == "diverged");
    sweep.norms = {"gn:groups=3"};  // checked before any training
    CHECK_THROWS_WITH_AS(apps::run_groupsweep(sweep), doctest::Contains("must divide"), Error);
  }

  TEST_CASE(
      "probe batchsweep: lr scaled with the batch; refusals and divergence recorded; resumes") {
    const fs::path data = write_toy_cifar("batchsweep", 32);
    apps::BatchSweepConfig sweep;
    sweep.base = small_config(data, "");
    sweep.base.epochs = 1;
    sweep.norms = {"gn:group_size=2", "gbn:virtual_batch=4"};
    sweep.batch_sizes = {2, 8};
    sweep.lr_at_128 = 0.64;
    sweep.out = (data / "out").string();
    const auto rows = apps::run_batchsweep(sweep);
    auto count = [&](const std::vector<apps::ProbeRow>& r, const std::string& metric) {
      return std::count_if(r.begin(), r.end(), [&](const auto& x) { return x.metric == metric; });
    };
    CHECK(count(rows, "test_acc") == 3);  // gbn:virtual_batch=4 cannot run at batch 2
    CHECK(count(rows, "refused") == 1);
    const fs::path b8 = data / "out" / "batchsweep" / "gn_group_size_2" / "b8";
    std::ifstream config(b8 / "config.json");
    const auto saved = nlohmann::json::parse(config);
    CHECK(saved.at("lr").get<double>() == doctest::Approx(0.64 * 8 / 128));
    CHECK(saved.at("batch_size").get<int>() == 8);
    // A second call reads the finished runs instead of training them again.
    const auto t0 = fs::last_write_time(b8 / "metrics.jsonl");
    CHECK(apps::run_batchsweep(sweep).size() == rows.size());
    CHECK(fs::last_write_time(b8 / "metrics.jsonl") == t0);
    // Divergence is recorded as a result.
    sweep.norms = {"none"};
    sweep.batch_sizes = {8};
    sweep.lr_at_128 = 1e8;
    sweep.out = (data / "out_diverged").string();
    CHECK(count(apps::run_batchsweep(sweep), "diverged") == 1);
    fs::remove_all(data);
  }

  TEST_CASE("probe landscape: probes restore the run; a landscape is measured along g") {
    const fs::path data = write_toy_cifar("landscape", 32);
    apps::LandscapeConfig c;
    c.run.data = data.string();
    c.run.model = "vgg3";
    c.run.width = 4;
    c.run.steps = 3;
    c.run.every = 2;
    c.run.batch_size = 16;
    c.etas = {0.05, 0.4};
    c.norms = {"bn"};
    const auto rows = apps::run_landscape(c);
    CHECK(rows.size() == 2 * 5);  // steps 0 and 2, five metrics each
    for (const auto& r : rows) {
      CAPTURE(r.metric);
      CHECK(std::isfinite(r.value));
      CHECK(r.value >= 0);
    }
    // Probing restores weights and running statistics: the loss at step 2 is the same as in a
    // run that probes only at step 0 (every = 2 vs every = 4 gives identical training).
    c.run.every = 4;
    const auto once = apps::run_landscape(c);
    c.run.every = 2;
    const auto twice = apps::run_landscape(c);
    c.run.every = 1;
    const auto each = apps::run_landscape(c);
    auto loss_at = [](const std::vector<apps::ProbeRow>& rs, int step) {
      for (const auto& r : rs)
        if (r.metric == "loss" && r.index == step) return r.value;
      return -1.0;
    };
    CHECK(loss_at(twice, 2) == loss_at(each, 2));
    CHECK(loss_at(once, 0) == loss_at(each, 0));
  }

  TEST_CASE("probe ics: the first layer has no shift; every layer is reported") {
    const fs::path data = write_toy_cifar("ics", 32);
    apps::IcsConfig c;
    c.run.data = data.string();
    c.run.model = "vgg3";
    c.run.width = 4;
    c.run.steps = 2;
    c.run.every = 1;
    c.run.batch_size = 16;
    register_noisy_batch_norm();
    c.norms = {"noisybn"};
    const auto rows = apps::run_ics(c);
    CHECK(rows.size() == 2 * (4 * 2 + 1));  // 2 probes x ((3 convs + fc) x {l2, cos} + loss)
    for (const auto& r : rows) {
      CAPTURE(r.layer);
      CHECK(std::isfinite(r.value));
      if (r.metric == "ics_cos") CHECK(std::abs(r.value) <= 1 + 1e-12);
      if (r.metric == "ics_l2") CHECK(r.value >= 0);
      // Nothing precedes the first convolution, so nothing can shift its input (noisy
      // BatchNorm's noise is a function of the step, the same when the probe re-runs it).
      if (r.layer == "features.0") {
        CAPTURE(r.metric);
        CHECK(r.value == doctest::Approx(r.metric == "ics_l2" ? 0.0 : 1.0));
      }
    }
  }

  TEST_CASE("noisy BatchNorm: eval applies the noise's expectation, training draws around it") {
    // Eval without the factor left the leaderboard's noisybn row at 10% test accuracy while it
    // trained to 70%: every later layer had learned features scaled by a_c ~ U(1, scale).
    register_noisy_batch_norm();
    const Tensor x = test::randn64({8, 3, 4, 4}, 7, false);
    for (const double scale : {2.0, 3.0}) {
      CAPTURE(scale);
      NoisyBatchNorm layer(3, 1.0, scale);
      layer.to(DType::f64);
      layer.eval();
      const Tensor plain = (*layer.bn)(x);
      CHECK(test::max_abs_diff(layer(x), mul(plain, (1 + scale) / 2)) < 1e-12);
      // In training BatchNorm's output has unit spread per channel, so the noisy output's spread
      // is the channel's gain a_c ~ U(1, scale); over many steps and channels it averages E[a_c].
      layer.train();
      double gain = 0;
      const int steps = 400;
      for (int s = 0; s < steps; ++s) {
        const Tensor y = layer(x);
        const Tensor centred = sub(y, mean(y, {0, 2, 3}, true));
        gain += mean(sqrt(mean(mul(centred, centred), {0, 2, 3}))).item() / steps;
      }
      CHECK(gain == doctest::Approx((1 + scale) / 2).epsilon(0.03));
    }
  }

  TEST_CASE("a missing data folder says how to get CIFAR-10") {
    apps::TrainConfig c;
    c.data = "/nonexistent/cifar";
    CHECK_THROWS_WITH_AS(apps::run_training(c), doctest::Contains("cs.toronto.edu"), Error);
  }

  TEST_CASE("training groups: AGC skips the classifier; Proxy Norm's gamma and beta skip decay") {
    auto net = make_model("resnet8", {.width = 4, .norm = "pn:ln"});
    const auto no_decay = net->no_weight_decay();
    CHECK(no_decay.count("bn1.weight") == 1);
    CHECK(no_decay.count("layer1.0.bn1.bias") == 1);
    CHECK(no_decay.count("layer1.0.bn1.proxy_weight") == 0);
    apps::TrainConfig config;
    config.agc = 0.01;
    const auto groups = apps::param_groups(*net, config);
    size_t total = 0;
    for (const ParamGroup& group : groups) {
      total += group.params.size();
      for (const Tensor& p : group.params) {
        const bool is_fc = p.impl_ptr() == test::parameter(*net, "fc.weight").impl_ptr() ||
                           p.impl_ptr() == test::parameter(*net, "fc.bias").impl_ptr();
        const bool excluded = p.impl_ptr() == test::parameter(*net, "bn1.weight").impl_ptr();
        CHECK((group.agc_clip == 0) == is_fc);
        if (excluded) CHECK(group.weight_decay == 0);
      }
    }
    CHECK(total == net->parameters().size());
    CHECK(groups[0].weight_decay == config.wd);
  }
}
