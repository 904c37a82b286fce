// Bad input a user can give, through the apps as a user runs them: every case exits non-zero
// with a message naming the culprit (or behaves correctly), never a crash, a hang or a
// plausible wrong number. One test case per entry of docs/reliability.md's table.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "core/error.hpp"
#include "core/random.hpp"
#include "core/safetensors.hpp"
#include "data/image_folder.hpp"
#include "layers/norm/factory.hpp"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace fs = std::filesystem;
using namespace nl;

namespace {

struct Run {
  int rc = -1;
  std::string output;  // stdout and stderr together
};

// Runs an app with a time limit, so a hang fails the test instead of stalling the suite.
Run run(const std::string& app, const std::string& args) {
  const std::string cmd =
      "timeout 300 " + std::string(NORMLAB_APP_DIR) + "/" + app + " " + args + " 2>&1 < /dev/null";
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Asserts a clean refusal: a non-zero exit that is not a signal or a time-out, and a message.
void expect_refusal(const Run& r, const std::string& pattern) {
  INFO("output: " << r.output);
  CHECK(r.rc != 0);
  CHECK(r.rc < 124);  // 124: timeout; >= 128: killed by a signal (segfault, abort)
  CHECK(std::regex_search(r.output, std::regex(pattern)));
}

void write_png(const fs::path& file, int w, int h, uint64_t seed) {
  Generator g(seed);
  std::vector<uint8_t> px(size_t(w) * h * 3);
  for (auto& v : px) v = uint8_t(g.below(256));
  REQUIRE(stbi_write_png(file.c_str(), w, h, 3, px.data(), w * 3) != 0);
}

const char* const kClasses[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                "dog",      "frog",       "horse", "ship", "truck"};

// A tiny image folder: `train_per_class` + `test_per_class` random 32x32 PNGs per class.
fs::path make_folder(const std::string& name, int train_per_class = 8, int test_per_class = 4,
                     int test_side = 32) {
  const fs::path root =
      fs::temp_directory_path() / ("normlab_robust_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(root);
  uint64_t seed = 1;
  for (const char* c : kClasses) {
    fs::create_directories(root / "train" / c);
    fs::create_directories(root / "test" / c);
    for (int i = 0; i < train_per_class; ++i)
      write_png(root / "train" / c / (std::to_string(i) + ".png"), 32, 32, seed++);
    for (int i = 0; i < test_per_class; ++i)
      write_png(root / "test" / c / (std::to_string(i) + ".png"), test_side, test_side, seed++);
  }
  return root;
}

// The small, fast training run every case starts from.
std::string small_run(const fs::path& data) {
  return "--data " + data.string() +
         " --model resnet8 --width 4 --epochs 1 --batch-size 16 --threads 1 --train-limit 0 "
         "--test-limit 0";
}

std::string slurp(const fs::path& f) {
  std::ifstream in(f);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_SUITE("robustness") {
  TEST_CASE("resume with other optimizer parameter groups; or a mis-shaped buffer; is refused") {
    const fs::path data = make_folder("groups");
    const fs::path a = data / "A";
    REQUIRE(run("train", small_run(data) + " --wd-skip-norm-bias --out " + a.string()).rc == 0);
    const std::string ck = (a / "checkpoint.safetensors").string();
    const std::string config_before = slurp(a / "config.json");
    // The flag is a run-defining setting: named with both values.
    const fs::path b = data / "B";
    REQUIRE(run("train", small_run(data) + " --out " + b.string()).rc == 0);
    expect_refusal(
        run("train", small_run(data) + " --wd-skip-norm-bias --resume " +
                         (b / "checkpoint.safetensors").string() + " --out " + a.string()),
        "--wd-skip-norm-bias true: the checkpoint was trained with false");
    CHECK(slurp(a / "config.json") == config_before);  // the failed run wrote nothing

    // A crafted momentum buffer of shape [1]: the optimizer names the entry and both shapes.
    SafetensorsFile f = load_safetensors(ck);
    for (auto& [k, t] : f.tensors)
      if (k.find("momentum_buffer") != std::string::npos) {
        t = Tensor::zeros({1});
        break;
      }
    const fs::path crafted = data / "crafted.safetensors";
    save_safetensors(crafted.string(), f);
    expect_refusal(run("train", small_run(data) + " --resume " + crafted.string()),
                   "momentum_buffer' has shape \\[1\\].*needs");

    // A checkpoint whose groups are split differently from the optimizer's (a config edited
    // to match, so only the optimizer state disagrees).
    SafetensorsFile g = load_safetensors(ck);
    auto meta = nlohmann::json::parse(g.metadata["normlab"]);
    meta["config"]["wd_skip_norm_bias"] = false;
    g.metadata["normlab"] = meta.dump();
    const fs::path edited = data / "edited.safetensors";
    save_safetensors(edited.string(), g);
    expect_refusal(run("train", small_run(data) + " --resume " + edited.string()),
                   "parameter group");
    fs::remove_all(data);
  }

  TEST_CASE("a test folder that lacks a class; or names classes differently; is refused") {
    const fs::path data = make_folder("classes");
    fs::remove_all(data / "test" / "truck");
    expect_refusal(run("train", small_run(data)), "only in the first: truck");
    fs::rename(data / "test" / "airplane", data / "test" / "zairplane");
    fs::create_directories(data / "test" / "truck");
    fs::copy_file(data / "train" / "truck" / "0.png", data / "test" / "truck" / "0.png");
    expect_refusal(run("train", small_run(data)), "airplane.*zairplane");
    fs::remove_all(data);
  }

  TEST_CASE("evaluate refuses a folder whose classes differ from the checkpoint's") {
    const fs::path data = make_folder("evalclasses");
    REQUIRE(run("train", small_run(data) + " --out " + (data / "A").string()).rc == 0);
    const std::string ck = (data / "A" / "checkpoint.safetensors").string();
    const Run ok = run("evaluate", ck + " --data " + data.string());
    CHECK(ok.rc == 0);
    fs::rename(data / "test" / "airplane", data / "test" / "zairplane");
    expect_refusal(run("evaluate", ck + " --data " + data.string()),
                   "only in the first: airplane; only in the second: zairplane");
    fs::remove_all(data);
  }

  TEST_CASE("evaluate --recalibrate: recomputes the statistics, refuses an impossible count") {
    const fs::path data = make_folder("recalibrate");
    REQUIRE(run("train", small_run(data) + " --out " + (data / "A").string()).rc == 0);
    const std::string eval = (data / "A" / "checkpoint.safetensors").string() + " --data " +
                             data.string() + " --recalibrate ";
    const Run ok = run("evaluate", eval + "32");  // two batches of 16; resnet8: 9 norms x 2
    INFO(ok.output);
    CHECK(ok.rc == 0);
    CHECK(ok.output.find("recomputed 18 running statistics over 32 training images") !=
          std::string::npos);
    expect_refusal(run("evaluate", eval + "8"),
                   "--recalibrate: needs between one batch \\(16 images\\) and the training set "
                   "\\(80 images\\), got 8");
    expect_refusal(run("evaluate", eval + "81"), "got 81");
    expect_refusal(run("evaluate", eval + "-1"), "--recalibrate");
    fs::remove_all(data / "train");
    expect_refusal(run("evaluate", eval + "32"), "train");
    fs::remove_all(data);
  }

  TEST_CASE("evaluate needs only test/") {
    const fs::path data = make_folder("evaltestonly");
    REQUIRE(run("train", small_run(data) + " --out " + (data / "A").string()).rc == 0);
    fs::remove_all(data / "train");
    const Run r = run(
        "evaluate", (data / "A" / "checkpoint.safetensors").string() + " --data " + data.string());
    INFO(r.output);
    CHECK(r.rc == 0);
    CHECK(r.output.find("test accuracy") != std::string::npos);
    // --dump-logits: the test set's logits, labels as int64, the class names.
    const fs::path dump = data / "logits.safetensors";
    const Run d = run("evaluate", (data / "A" / "checkpoint.safetensors").string() + " --data " +
                                      data.string() + " --dump-logits " + dump.string());
    CHECK(d.rc == 0);
    const SafetensorsFile f = load_safetensors(dump.string());
    CHECK(f.tensors.at("logits").shape() == Shape{40, 10});
    CHECK(f.int64_tensors.count("labels") == 1);
    CHECK(f.tensors.at("labels").to_vector()[39] == 9);
    CHECK(f.metadata.at("classes").find("truck") != std::string::npos);
    fs::remove_all(data);
  }

  TEST_CASE("models too large for memory; or too deep; are refused before allocating") {
    const fs::path data = make_folder("memory", 2, 1);
    const std::string base = "--data " + data.string() + " --epochs 1 --threads 1";
    expect_refusal(run("train", base + " --width 4096"), "needs about .* GiB.*available");
    expect_refusal(run("train", base + " --model resnet6002"), "depth above 1202");
    expect_refusal(run("train", base + " --model vgg100000"), "\\[3, 1000\\]");
    fs::remove_all(data);
  }

  TEST_CASE("resume compares every run-defining setting with the checkpoint's") {
    const fs::path data = make_folder("resume");
    const fs::path a = data / "A";
    REQUIRE(run("train", small_run(data) + " --norm gn:groups=4 --out " + a.string()).rc == 0);
    const std::string ck = " --resume " + (a / "checkpoint.safetensors").string();
    expect_refusal(run("train", small_run(data) + " --batch-size 32" + ck),
                   "--batch-size 32: the checkpoint was trained with 16");
    expect_refusal(run("train", small_run(data) + " --norm gn:groups=2" + ck),
                   "--norm \"gn:groups=2\".*\"gn:groups=4\"");
    expect_refusal(run("train", small_run(data) + " --norm gn:groups=4 --lr 0.05" + ck), "--lr");
    expect_refusal(run("train", small_run(data) + " --norm gn:groups=4 --epochs 3" + ck),
                   "--epochs 3.*another length");
    // Flags left out are taken from the checkpoint; a finished run says so and reports the
    // accuracy it reached, not 0.
    const Run done = run("train", "--data " + data.string() + " --threads 1" + ck);
    INFO(done.output);
    CHECK(done.rc == 0);
    CHECK(done.output.find("nothing to train") != std::string::npos);
    CHECK(done.output.find("final test accuracy 0.00%") == std::string::npos);
    fs::remove_all(data);
  }

  TEST_CASE("normalizer options out of range; duplicated or contradicting the batch are refused") {
    for (const char* spec :
         {"bn:momentum=2", "bn:momentum=-1", "bn:momentum=nan", "bn:eps=0", "evob0:momentum=5",
          "switch:momentum=3", "gn:groups=0", "gn:groups=2.5", "online:alpha_fwd=1", "lrn:k=0"}) {
      CAPTURE(spec);
      std::string message;
      try {
        make_norm(spec, 8, {4, 4});
      } catch (const Error& e) {
        message = e.what();
      }
      INFO(message);
      CHECK(std::regex_search(message, std::regex("out of range|positive integer")));
    }
    CHECK_THROWS_WITH_AS(make_norm("bn:momentum=0.1,momentum=0.2", 8), doctest::Contains("twice"),
                         Error);
    const fs::path data = make_folder("normargs", 4, 1);
    expect_refusal(run("train", small_run(data) + " --norm gbn:virtual_batch=100 --batch-size 32"),
                   "virtual batch \\(100\\) is larger than --batch-size 32");
    expect_refusal(run("train", small_run(data) + " --norm bn:momentum=nan"), "out of range");
    fs::remove_all(data);
  }

  TEST_CASE("evaluate refuses non-finite weights and invalid input-normalization metadata") {
    const fs::path data = make_folder("evalnan");
    REQUIRE(run("train", small_run(data) + " --out " + (data / "A").string()).rc == 0);
    const std::string ck = (data / "A" / "checkpoint.safetensors").string();
    const auto variant = [&](const std::string& name, auto edit) {
      SafetensorsFile f = load_safetensors(ck);
      edit(f);
      const fs::path p = data / (name + ".safetensors");
      save_safetensors(p.string(), f);
      return p.string();
    };
    const std::string nan_model = variant("nan", [](SafetensorsFile& f) {
      f.tensors["model.conv1.weight"] = Tensor::full(f.tensors["model.conv1.weight"].shape(), NAN);
    });
    expect_refusal(run("evaluate", nan_model + " --data " + data.string()),
                   "model.conv1.weight|conv1.weight' holds NaN");
    const auto with_meta = [&](const std::string& name, const char* key, nlohmann::json value) {
      return variant(name, [&](SafetensorsFile& f) {
        auto meta = nlohmann::json::parse(f.metadata["normlab"]);
        meta[key] = value;
        f.metadata["normlab"] = meta.dump();
      });
    };
    expect_refusal(run("evaluate", with_meta("mean1", "mean", {0.5}) + " --data " + data.string()),
                   "'mean' must list 3 numbers");
    expect_refusal(
        run("evaluate", with_meta("std0", "std", {0.2, 0.0, 0.2}) + " --data " + data.string()),
        "std' holds 0.* must be positive");
    expect_refusal(run("evaluate", with_meta("noepoch", "epoch", "x") + " --data " + data.string()),
                   "noepoch.safetensors: checkpoint metadata field 'epoch'");
    fs::remove_all(data);
  }

  TEST_CASE("test images of another size than the training images are refused") {
    const fs::path data = make_folder("sizes", 4, 2, /*test_side=*/64);
    expect_refusal(run("train", small_run(data)),
                   "test/airplane/0.png: image is 64x64, expected 32x32");
    fs::remove_all(data);
  }

  TEST_CASE("a wrong-size image is blamed even when it sorts first") {
    const fs::path data = make_folder("firstbad", 4, 1);
    write_png(data / "train" / "airplane" / "0.png", 40, 40, 99);
    CHECK_THROWS_WITH_AS(data::ImageFolder((data / "train").string()),
                         doctest::Contains("airplane/0.png: image is 40x40, expected 32x32"),
                         Error);
    fs::remove_all(data);
  }

  TEST_CASE("a probe whose training diverges says so and exits non-zero") {
    const fs::path data = make_folder("probe", 4, 1);
    const Run r = run("probe", "ics --data " + data.string() +
                                   " --norm bn --model resnet8 --batch-size 8 --threads 1 "
                                   "--steps 4 --every 2 --lr 1e30");
    expect_refusal(r, "diverged");
    CHECK(r.rc == 3);
    CHECK(r.output.find("nan") == std::string::npos);
    expect_refusal(run("probe", "dept"), "unknown experiment 'dept'; choose one of depth");
    fs::remove_all(data);
  }

  TEST_CASE("late errors come early and name the flag or the file") {
    const fs::path data = make_folder("late", 4, 1);
    // An --out that cannot be a folder is refused before training.
    std::ofstream(data / "a_file") << "x";
    expect_refusal(run("train", small_run(data) + " --out " + (data / "a_file").string()),
                   "must be a folder");
    expect_refusal(run("train", small_run(data) + " --out " + (data / "a_file" / "sub").string()),
                   "cannot create the output folder");
    // Fewer than two one-cycle steps names the flags.
    expect_refusal(run("train", small_run(data) + " --batch-size 40"),
                   "only 1 optimizer step.*--epochs.*--batch-size");
    expect_refusal(run("train", small_run(data) + " --train-limit -5"), "--train-limit");
    // A FIFO or a folder given as a checkpoint is refused, not waited on.
    const fs::path fifo = data / "fifo.safetensors";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    expect_refusal(run("evaluate", fifo.string() + " --data " + data.string()),
                   "not a regular file");
    // A stale temporary checkpoint from a killed run is removed at start.
    fs::create_directories(data / "out");
    std::ofstream(data / "out" / "checkpoint.safetensors.tmp") << "half";
    const Run r = run("train", small_run(data) + " --out " + (data / "out").string());
    CHECK(r.rc == 0);
    CHECK(!fs::exists(data / "out" / "checkpoint.safetensors.tmp"));
    fs::remove_all(data);
  }

  TEST_CASE("bench_layers names a missing image folder and exits non-zero") {
    expect_refusal(run("bench_layers", "loader --data /nonexistent-normlab-folder"),
                   "bench_layers: .*nonexistent-normlab-folder.*not found");
  }

  TEST_CASE("a folder where a CIFAR batch file should be is named") {
    const fs::path dir =
        fs::temp_directory_path() / ("normlab_robust_binary_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "data_batch_1.bin");
    expect_refusal(run("train", "--data " + dir.string() + " --epochs 1"),
                   "data_batch_1.bin: not a regular file \\(a directory\\)");
    fs::remove_all(dir);
  }

  TEST_CASE("the JPEG inputs that crashed stb_image are refused with a message") {
    for (const char* name :
         {"jpeg-undefined-huffman-table.jpg", "jpeg-oversized-huffman-table.jpg"}) {
      CAPTURE(name);
      const fs::path file = fs::path(NORMLAB_TEST_DIR) / "fuzz" / "regressions" / name;
      std::ifstream f(file, std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
      REQUIRE(!bytes.empty());
      int w = 0, h = 0;
      CHECK_THROWS_WITH_AS(data::decode_image_rgb(name, bytes.data(), bytes.size(), w, h),
                           doctest::Contains("corrupt JPEG"), Error);
    }
  }
}
