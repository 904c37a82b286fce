#include "apps/common/batchsweep.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/common/run_checks.hpp"
#include "apps/common/run_folder.hpp"
#include "layers/models/resnet.hpp"

namespace nl::apps {
namespace fs = std::filesystem;

std::vector<std::string> default_batchsweep_norms() {
  return {"bn",   "gbn:virtual_batch=4",
          "brn",  "bgn:groups=8",
          "bcn",  "gn:groups=8",
          "ln",   "in",
          "frn",  "evos0",
          "pn:ln"};
}

namespace {

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::vector<ProbeRow> run_batchsweep(const BatchSweepConfig& config) {
  check(!config.out.empty(), "probe batchsweep", "needs --out (each run writes its metrics there)");
  const std::vector<std::string> norms =
      config.norms.empty() ? default_batchsweep_norms() : config.norms;
  for (const std::string& norm : norms)  // a bad spec stops the sweep before any training
    make_model(config.base.model, ModelOptions{config.base.arch.width, norm});
  std::vector<ProbeRow> rows;
  for (const int batch : config.batch_sizes)
    for (const std::string& norm : norms) {
      TrainConfig run = config.base;
      run.arch.norm = norm;
      run.batch_size = batch;
      run.lr = config.lr_at_128 * batch / 128.0;
      run.out = (fs::path(config.out) / "batchsweep" / spec_folder_name(norm) /
                 ("b" + std::to_string(batch)))
                    .string();
      run.progress = false;
      const std::string what = norm + " at batch " + std::to_string(batch);
      const fs::path metrics_file = fs::path(run.out) / "metrics.jsonl";
      const fs::path outcome_file = fs::path(run.out) / "outcome.txt";
      std::string outcome = fs::exists(outcome_file) ? read_text(outcome_file) : "";
      if (outcome.empty()) {
        std::cout << "batchsweep: " << what << ", lr " << run.lr << "\n" << std::flush;
        try {
          check_settings(run);  // e.g. a ghost batch larger than this batch
        } catch (const Error& e) {
          std::cout << "batchsweep: " << what << " refused: " << e.what() << "\n";
          outcome = "refused";
        }
        if (outcome.empty()) {
          try {
            fs::remove(metrics_file);  // an interrupted run starts again
            run_training(run);
            outcome = "done";
          } catch (const DivergenceError& e) {
            std::cout << "batchsweep: " << what << " diverged: " << e.what() << "\n";
            outcome = "diverged";
          }
        }
        fs::create_directories(run.out);
        std::ofstream(outcome_file) << outcome;
      }
      const auto m = read_metrics(metrics_file);
      if (outcome == "done" && !m.empty()) {
        rows.push_back(
            {norm, "plain", "", "test_acc", batch, m.back().at("test_acc").get<double>()});
        rows.push_back(
            {norm, "plain", "", "train_loss", batch, m.back().at("train_loss").get<double>()});
      } else {
        rows.push_back(
            {norm, "plain", "", outcome == "refused" ? "refused" : "diverged", batch, 1.0});
      }
    }
  return rows;
}

}  // namespace nl::apps
