// apps/probe: each metric on a hand-computable case, and each experiment end to end on a tiny
// model and a few synthetic images.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/common/probe.hpp"
#include "apps/common/probe_metrics.hpp"
#include "apps/common/probe_seeds.hpp"
#include "core/random.hpp"
#include "data/cifar_binary.hpp"

using namespace nl;

TEST_SUITE("probe") {
  TEST_CASE("activation variance is the mean over channels of the unbiased variance") {
    // Channel 0 holds 1, 2, 3, 4 (variance 5/3); channel 1 is constant (0).
    const Tensor a = Tensor::from_vector({1, 2, 7, 7, 3, 4, 7, 7}, {2, 2, 2, 1}, DType::f64);
    CHECK(probe::activation_variance(a) == doctest::Approx((5.0 / 3) / 2));
  }

  TEST_CASE("cosine similarity and stable rank of identical; orthogonal and mixed samples") {
    const Tensor same = Tensor::from_vector({1, 2, 3, 1, 2, 3, 2, 4, 6}, {3, 3}, DType::f64);
    const probe::Similarity s = probe::sample_similarity(same);
    CHECK(s.mean_cosine == doctest::Approx(1.0));
    CHECK(s.stable_rank == doctest::Approx(1.0));
    const Tensor eye = Tensor::from_vector({1, 0, 0, 0, 5, 0, 0, 0, 2}, {3, 3}, DType::f64);
    const probe::Similarity o = probe::sample_similarity(eye);
    CHECK(o.mean_cosine == doctest::Approx(0.0));
    CHECK(o.stable_rank == doctest::Approx(3.0));
    // Two samples at 60 degrees: cosine 0.5, G = [[1, .5], [.5, 1]], lambda_max 1.5.
    const Tensor sixty = Tensor::from_vector({1, 0, 0.5, std::sqrt(3.0) / 2}, {2, 2}, DType::f64);
    const probe::Similarity h = probe::sample_similarity(sixty);
    CHECK(h.mean_cosine == doctest::Approx(0.5));
    CHECK(h.stable_rank == doctest::Approx(2 / 1.5));
    CHECK(probe::frobenius_norm(sixty) == doctest::Approx(std::sqrt(2.0)));
  }

  TEST_CASE("power decomposition on a hand-computable case") {
    // 2 samples, 2 channels, 2 positions. Channel 0: sample rows (1, 3) and (5, 7): instance
    // means 2, 6 -> channel mean 4; parts 16, Var_x = 4, within-sample variance 1 (total 21 =
    // mean of squares (1 + 9 + 25 + 49) / 4). Channel 1: all zeros.
    const Tensor y = Tensor::from_vector({1, 3, 0, 0, 5, 7, 0, 0}, {2, 2, 2}, DType::f64);
    const probe::PowerParts p = probe::power_decomposition(y);
    CHECK(p.total == doctest::Approx(21.0 / 2));
    CHECK(p.channel_constant == doctest::Approx(16.0 / 21));
    CHECK(p.instance_constant == doctest::Approx(4.0 / 21));
    CHECK(p.instance_varying == doctest::Approx(1.0 / 21));
  }

  TEST_CASE("the summary of several seeds: spread, growth per block, and the ordering's fate") {
    // Two normalizers over 3 layers and 2 seeds: "a" doubles per layer, 1, 2, 4 in seed 0 and
    // 0.25, 0.5, 1 in seed 1; "b" is flat at 3. At the last layer a > b in seed 0, a < b in
    // seed 1 and on average (2.5 < 3).
    std::vector<apps::ProbeRow> rows;
    for (uint64_t seed : {0, 1})
      for (int i = 0; i < 3; ++i) {
        const double a = (seed == 0 ? 1.0 : 0.25) * std::pow(2.0, i);
        const std::string layer = "layer" + std::to_string(i);
        rows.push_back({"a", "plain", layer, "activation_variance", i + 1, a, seed});
        rows.push_back({"b", "plain", layer, "activation_variance", i + 1, 3.0, seed});
      }
    const std::string text = apps::probe_summary(rows);
    INFO(text);
    CHECK(text.find("2 seeds") != std::string::npos);
    // growth per block: exactly 2 in both seeds, spread 0
    CHECK(text.find("growth per block of the activation variance, a: 2 +- 0 [2, 2]") !=
          std::string::npos);
    // last layer: a is 4 and 1 (mean 2.5) < b = 3 on average, but not in seed 0
    CHECK(text.find("ascending by the mean: a < b; holds on average only (1 of 2 seeds") !=
          std::string::npos);
    CHECK(text.find("at the last layer (3), ascending") != std::string::npos);
    for (auto& r : rows)
      if (r.norm == "a") r.value /= 8;  // now a < b in every seed
    CHECK(apps::probe_summary(rows).find("a < b; holds in every seed") != std::string::npos);
  }

  TEST_CASE("a training-run probe's summary reads its index as time, averaging over layers") {
    // ics-like rows: two layers at steps 0, 10, 20 and a loss per step; 2 seeds. The columns
    // are steps 0, 10 and 20, and a per-layer metric is the mean over the layers at each step.
    std::vector<apps::ProbeRow> rows;
    for (uint64_t seed : {0, 1})
      for (int step : {0, 10, 20}) {
        for (const char* norm : {"bn", "none"}) {
          const double shift = std::string(norm) == "bn" ? 1.0 : 3.0;
          rows.push_back({norm, "plain", "l1", "ics_l2", step, shift * step, seed});
          rows.push_back({norm, "plain", "l2", "ics_l2", step, shift * step + 2, seed});
          rows.push_back({norm, "plain", "", "loss", step, 2.0 - 0.01 * step + 0.1 * seed, seed});
        }
      }
    const std::string text = apps::probe_summary(rows, "step");
    INFO(text);
    CHECK(text.find("mean at each step") != std::string::npos);
    // bn's ics_l2: step 0 -> (0 + 2) / 2 = 1, step 10 -> 11, step 20 -> 21, in both seeds.
    CHECK(text.find("1 +- 0 [1, 1] | 11 +- 0 [11, 11] | 21 +- 0 [21, 21]  (step 0, 10, 20)") !=
          std::string::npos);
    CHECK(text.find("ics_l2 at the last step (20), ascending by the mean: bn < none; holds in "
                    "every seed") != std::string::npos);
    CHECK(text.find("layer") == text.find("layers"));  // "layer" only in "several layers"
  }

  TEST_CASE("a multi-seed probe keeps each seed and reuses it only under the same options") {
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / fs::path("normlab_seeds").concat(std::to_string(getpid()));
    fs::remove_all(dir);
    const char* argv[] = {"probe",       "groupsweep", "--seeds",
                          "3",           "--norm",     "bcn:groups=2,eps=1e-5",
                          "--threads=2", "--seed",     "4"};
    const std::string options = apps::probe_options(9, argv);
    CHECK(options == "groupsweep --norm bcn:groups=2,eps=1e-5");
    const apps::SeedCache cache(dir.string(), "groupsweep", options);
    CHECK_FALSE(cache.load(5).has_value());
    // A spec with commas, an empty layer, a negative value: the round trip keeps them all.
    const std::vector<apps::ProbeRow> rows{
        {"bcn:groups=2,eps=1e-5", "plain", "", "test_acc", 1, 0.25, 5},
        {"gn:group_size=4", "skipinit", "layer1.0", "train_loss", 2, -1.5e-7, 5}};
    cache.save(5, rows);
    CHECK_FALSE(fs::exists(cache.path(5) + ".partial"));
    const auto back = cache.load(5);
    REQUIRE(back.has_value());
    REQUIRE(back->size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      CHECK((*back)[i].norm == rows[i].norm);
      CHECK((*back)[i].residual == rows[i].residual);
      CHECK((*back)[i].layer == rows[i].layer);
      CHECK((*back)[i].metric == rows[i].metric);
      CHECK((*back)[i].index == rows[i].index);
      CHECK((*back)[i].value == doctest::Approx(rows[i].value).epsilon(1e-9));
      CHECK((*back)[i].seed == 5);
    }
    // Another budget must not be mixed in silently.
    const apps::SeedCache other(dir.string(), "groupsweep", "groupsweep --epochs 8");
    CHECK_THROWS_WITH_AS(other.load(5), doctest::Contains("measured with other options"), Error);
    // A damaged file names itself and its line.
    std::ofstream(cache.path(6)) << "# options: " << options << "\n"
                                 << "experiment,norm,residual,index,layer,metric,value,seed\n"
                                 << "groupsweep,\"bn\",plain,x,,test_acc,0.5,6\n";
    CHECK_THROWS_WITH_AS(cache.load(6), doctest::Contains("line 3: bad number"), Error);
    std::ofstream(cache.path(7)) << "# options: " << options << "\n"
                                 << "experiment,norm,residual,index,layer,metric,value,seed\n"
                                 << "groupsweep,bn,plain\n";
    CHECK_THROWS_WITH_AS(cache.load(7), doctest::Contains("line 3: malformed row"), Error);
    fs::remove_all(dir);
  }

  TEST_CASE("every experiment runs on a tiny ResNet and reports every layer") {
    Generator g(80);
    std::vector<uint8_t> bytes(40 * 3073);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(g.next_u64() % 256);
    for (int r = 0; r < 40; ++r) bytes[r * 3073] = uint8_t(r % 10);
    data::Cifar10Binary set;
    set.append_records("synthetic.bin", bytes.data(), bytes.size());
    for (const char* experiment : {"depth", "similarity", "gradnorm"}) {
      CAPTURE(std::string(experiment));
      apps::ProbeConfig config{experiment, "resnet8", {"bn", "none"}, 0, 8};
      const auto rows = apps::run_probe(config, set);
      // ResNet-8: 3 blocks; 9 convolutions (stem, 2 per block, 2 projections).
      const size_t per_norm = std::string(experiment) == "depth"        ? 3
                              : std::string(experiment) == "similarity" ? 6
                                                                        : 9;
      // depth sweeps plain and skipinit by default.
      const size_t residuals = std::string(experiment) == "depth" ? 2 : 1;
      CHECK(rows.size() == 2 * per_norm * residuals);
      for (const auto& r : rows) CHECK(std::isfinite(r.value));
      const auto skipinit_rows = std::count_if(
          rows.begin(), rows.end(), [](const auto& r) { return r.residual == "skipinit"; });
      CHECK(size_t(skipinit_rows) == (residuals - 1) * 2 * per_norm);
      CHECK(apps::probe_summary(rows).find("none") != std::string::npos);
    }
    // power: the plain CNN's 5 norm slots, three parts each; IN has no instance-constant part.
    const auto power = apps::run_probe({"power", "vgg5", {"in", "pn:ln"}, 0, 8}, set);
    CHECK(power.size() == 2 * 5 * 3);
    for (const auto& r : power) {
      CHECK(std::isfinite(r.value));
      if (r.norm == "in" && r.metric == "instance_constant") CHECK(std::abs(r.value) < 1e-12);
    }
    CHECK_THROWS_WITH_AS(apps::run_probe({"power", "resnet8", {"bn"}, 0, 8}, set),
                         doctest::Contains("--model vgg"), Error);
    CHECK_THROWS_WITH_AS(apps::run_probe({"nonsense", "resnet8", {"bn"}, 0, 8}, set),
                         doctest::Contains("unknown experiment"), Error);
    CHECK_THROWS_WITH_AS(apps::run_probe({"depth", "resnet8", {"bn"}, 0, 400}, set),
                         doctest::Contains("only 40 training images"), Error);
  }
}
