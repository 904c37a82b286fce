// probe: what the normalization papers measure, at initialisation, on one CIFAR-10 minibatch.
//   probe depth      --model resnet56 --out runs/probe     activation variance per block
//   probe similarity --model resnet56 --out runs/probe     cosine similarity, stable rank
//   probe gradnorm   --model resnet56 --out runs/probe     ||dL/d conv output|| per conv
//   probe power      --model vgg20 --out runs/probe        power split of the pre-activations
//   probe groupsweep --model resnet20 --out runs/probe     short trainings over the group sizes
//   probe batchsweep --out runs/probe                      test error against the batch size
//   probe landscape  --model vgg11 --out runs/probe        loss landscape along the gradient
//   probe ics        --model vgg11 --out runs/probe        internal covariate shift per layer
// Each writes <out>/<experiment>.csv (plot: scripts/plot_probe.py) and prints a summary.
// docs/experiments/ has the claims, commands and our figures.
#include "apps/common/probe.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "apps/common/batchsweep.hpp"
#include "apps/common/groupsweep.hpp"
#include "apps/common/guarded_main.hpp"
#include "apps/common/ics.hpp"
#include "apps/common/landscape.hpp"
#include "apps/common/noisy_batch_norm.hpp"
#include "apps/common/probe_seeds.hpp"
#include "apps/common/training.hpp"
#include "core/parallel.hpp"

namespace {

int run(int argc, char** argv) {
  nl::register_noisy_batch_norm();  // the probes' experiment normalizer, also trainable
  CLI::App app{"normlab probe: the normalization papers' measurements at initialisation"};
  app.require_subcommand(1);
  nl::apps::ProbeConfig config;
  std::string data_dir = "../shared/datasets/cifar10-jpeg", out;
  int threads = 0, seeds = 1;
  nl::apps::GroupSweepConfig sweep;
  sweep.base.model = "resnet20";
  sweep.base.epochs = 4;
  sweep.base.train_limit = 10000;
  sweep.base.test_limit = 2000;
  nl::apps::LandscapeConfig landscape;
  nl::apps::IcsConfig ics;
  ics.run.steps = 200;
  ics.run.every = 25;
  nl::apps::BatchSweepConfig batchsweep;
  batchsweep.base.model = "resnet20";
  batchsweep.base.epochs = 2;
  batchsweep.base.train_limit = 5000;
  batchsweep.base.test_limit = 2000;
  const std::string experiments =
      "depth, similarity, gradnorm, power, groupsweep, batchsweep, landscape, ics";
  for (const char* experiment : {"depth", "similarity", "gradnorm", "power", "groupsweep",
                                 "batchsweep", "landscape", "ics"}) {
    CLI::App* sub =
        app.add_subcommand(experiment, std::string("run the ") + experiment + " experiment");
    sub->add_option("--norm", config.norms,
                    "normalizer spec(s), repeatable; default: the experiment's sweep");
    sub->add_option("--residual", config.residuals,
                    "plain|skipinit|fixup, repeatable; default: depth sweeps plain and skipinit")
        ->check(CLI::IsMember({"plain", "skipinit", "fixup"}));
    sub->add_option("--model", config.model, "resnet<6n+2> or vgg<depth>")->capture_default_str();
    sub->add_option("--seed", config.seed, "the first seed")->capture_default_str();
    sub->add_option("--seeds", seeds,
                    "repeat with seeds seed, seed+1, ...: weights and samples drawn again per "
                    "seed; the CSV keeps every seed, the summary gives mean, spread, min/max")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    sub->add_option("--batch-size", config.batch_size)
        ->check(CLI::Range(2, 100000))
        ->capture_default_str();
    sub->add_option("--data", data_dir, "image folder or CIFAR-10 binary folder")
        ->capture_default_str();
    sub->add_option("--out", out, "folder for <experiment>.csv");
    sub->add_option("--threads", threads, "0 = all cores");
    if (std::string(experiment) == "groupsweep") {
      sub->add_option("--epochs", sweep.base.epochs)->capture_default_str();
      sub->add_option("--train-limit", sweep.base.train_limit, "training images per run")
          ->capture_default_str();
      sub->add_option("--test-limit", sweep.base.test_limit)->capture_default_str();
      sub->add_option("--lr", sweep.base.lr)->capture_default_str();
    }
    if (std::string(experiment) == "batchsweep") {
      sub->add_option("--epochs", batchsweep.base.epochs)->capture_default_str();
      sub->add_option("--train-limit", batchsweep.base.train_limit,
                      "training images per run (the same for every batch size)")
          ->capture_default_str();
      sub->add_option("--test-limit", batchsweep.base.test_limit)->capture_default_str();
      sub->add_option("--lr", batchsweep.lr_at_128,
                      "learning rate at batch 128; batch B trains at lr x B / 128")
          ->capture_default_str();
      sub->add_option("--batch-sizes", batchsweep.batch_sizes, "the batch sizes swept")
          ->check(CLI::Range(2, 65536))
          ->capture_default_str();
    }
    if (std::string(experiment) == "landscape" || std::string(experiment) == "ics") {
      nl::apps::ProbedRun& run = std::string(experiment) == "landscape" ? landscape.run : ics.run;
      sub->add_option("--steps", run.steps, "training steps")->capture_default_str();
      sub->add_option("--every", run.every, "probe every k steps")->capture_default_str();
      sub->add_option("--lr", run.lr, "constant SGD learning rate")->capture_default_str();
    }
    sub->callback([&config, experiment] { config.experiment = experiment; });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 says only "A subcommand is required" for a misspelt experiment: name it.
    if (argc > 1 && argv[1][0] != '-' && !app.get_subcommands().size() && e.get_exit_code() != 0) {
      std::cerr << "probe: unknown experiment '" << argv[1] << "'; choose one of " << experiments
                << "\n";
      return 2;
    }
    return app.exit(e);
  }
  try {
    nl::set_num_threads(threads);
    // One experiment per seed, the rows tagged with it.
    std::vector<nl::apps::ProbeRow> rows;
    std::unique_ptr<nl::apps::Datasets> data;  // the initialisation probes load it once
    const uint64_t first_seed = config.seed;
    // With several seeds and an --out folder, finished seeds are kept there and reused when the
    // same command runs again (apps/common/probe_seeds.hpp).
    const bool resumable = seeds > 1 && !out.empty();
    const nl::apps::SeedCache cache(out, config.experiment, nl::apps::probe_options(argc, argv));
    for (int k = 0; k < seeds; ++k) {
      const uint64_t seed = first_seed + uint64_t(k);
      config.seed = seed;
      std::vector<nl::apps::ProbeRow> seed_rows;
      if (auto kept = resumable ? cache.load(seed) : std::nullopt) {
        std::cerr << "probe: seed " << seed << " measured before, read from " << cache.path(seed)
                  << "\n";
        rows.insert(rows.end(), kept->begin(), kept->end());
        continue;
      }
      if (config.experiment == "groupsweep") {
        // Training runs: the recipe of apps/train with a short budget, one run per normalizer.
        sweep.base.data = data_dir;
        sweep.base.seed = seed;
        const CLI::App* sub = app.get_subcommand("groupsweep");
        if (sub->count("--batch-size")) sweep.base.batch_size = int(config.batch_size);
        if (sub->count("--model")) sweep.base.model = config.model;
        sweep.base.threads = threads;
        sweep.norms = config.norms;
        sweep.out = seeds > 1 && !out.empty() ? out + "/seed" + std::to_string(seed) : out;
        seed_rows = nl::apps::run_groupsweep(sweep);
      } else if (config.experiment == "batchsweep") {
        batchsweep.base.data = data_dir;
        batchsweep.base.seed = seed;
        if (app.get_subcommand("batchsweep")->count("--model"))
          batchsweep.base.model = config.model;
        batchsweep.base.threads = threads;
        batchsweep.norms = config.norms;
        batchsweep.out = seeds > 1 && !out.empty() ? out + "/seed" + std::to_string(seed) : out;
        seed_rows = nl::apps::run_batchsweep(batchsweep);
      } else if (config.experiment == "landscape" || config.experiment == "ics") {
        // A training run probed every few steps; the common flags fill its settings.
        const bool is_landscape = config.experiment == "landscape";
        nl::apps::ProbedRun& run = is_landscape ? landscape.run : ics.run;
        run.data = data_dir;
        run.seed = seed;
        const CLI::App* sub = app.get_subcommand(config.experiment);
        if (sub->count("--model")) run.model = config.model;
        if (sub->count("--batch-size")) run.batch_size = config.batch_size;
        landscape.norms = ics.norms = config.norms;
        seed_rows = is_landscape ? nl::apps::run_landscape(landscape) : nl::apps::run_ics(ics);
      } else {
        if (!data) data = std::make_unique<nl::apps::Datasets>(nl::apps::load_cifar(data_dir));
        seed_rows = nl::apps::run_probe(config, *data->train);
      }
      for (auto& r : seed_rows) r.seed = seed;
      rows.insert(rows.end(), seed_rows.begin(), seed_rows.end());
      if (resumable) cache.save(seed, seed_rows);
      if (seeds > 1) std::cerr << "probe: seed " << seed << " done\n";
    }
    if (config.experiment == "batchsweep") {
      // Divergence at small batches is one of the sweep's results: listed, kept in the CSV,
      // left out of the summary's means; the exit code stays 0.
      std::vector<nl::apps::ProbeRow> trained;
      for (const auto& r : rows) {
        if (r.metric == "diverged" || r.metric == "refused")
          std::cout << "batchsweep: " << r.norm << " at batch " << r.index << ": " << r.metric
                    << " (seed " << r.seed << ")\n";
        else
          trained.push_back(r);
      }
      std::cout << nl::apps::probe_summary(trained, "batch size");
      if (!out.empty()) {
        const std::string path = out + "/batchsweep.csv";
        nl::apps::write_probe_csv(path, config.experiment, rows);
        std::cout << "wrote " << path << "\n";
      }
      return 0;
    }
    // A run that diverged (or a measurement that came out NaN/inf) is reported, not averaged:
    // its rows stay in the CSV, the summary leaves them out and the exit code says so.
    std::map<std::string, std::string> diverged;  // "norm residual" -> where
    for (const auto& r : rows)
      if (r.metric == "diverged" || !std::isfinite(r.value))
        diverged.emplace(r.norm + " " + r.residual,
                         r.metric == "diverged"
                             ? "training diverged at step " + std::to_string(r.index)
                             : r.metric + " is non-finite at step/index " +
                                   std::to_string(r.index) +
                                   (r.layer.empty() ? "" : " (" + r.layer + ")"));
    std::vector<nl::apps::ProbeRow> finite;
    for (const auto& r : rows)
      if (!diverged.count(r.norm + " " + r.residual)) finite.push_back(r);
    // What the rows' index counts: a layer's depth, or the time of a training-run probe.
    const std::string axis = config.experiment == "groupsweep" ? "epoch"
                             : config.experiment == "landscape" || config.experiment == "ics"
                                 ? "step"
                                 : "layer";
    std::cout << nl::apps::probe_summary(finite, axis);
    if (!out.empty()) {
      std::filesystem::create_directories(out);
      const std::string path = out + "/" + config.experiment + ".csv";
      nl::apps::write_probe_csv(path, config.experiment, rows);
      std::cout << "wrote " << path << "\n";
    }
    if (!diverged.empty()) {
      for (const auto& [run, where] : diverged)
        std::cerr << "probe " << config.experiment << ": " << run << ": " << where << "\n";
      std::cerr << "probe: " << diverged.size()
                << " run(s) diverged; left out of the summary (lower --lr?)\n";
      return 3;
    }
  } catch (const std::exception& e) {
    std::cerr << "probe: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nl::apps::guarded_main("probe", [&] { return run(argc, argv); });
}
