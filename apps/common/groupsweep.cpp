#include "apps/common/groupsweep.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/common/run_folder.hpp"
#include "layers/models/resnet.hpp"

namespace nl::apps {
namespace fs = std::filesystem;

std::vector<ProbeRow> run_groupsweep(const GroupSweepConfig& config) {
  check(!config.out.empty(), "probe groupsweep", "needs --out (each run writes its metrics there)");
  const std::vector<std::string> norms =
      config.norms.empty() ? default_probe_norms("similarity") : config.norms;
  // Every model is built once first, so a bad spec stops the sweep before any training.
  for (const std::string& norm : norms)
    make_model(config.base.model, ModelOptions{config.base.arch.width, norm});
  std::vector<ProbeRow> rows;
  for (const std::string& norm : norms) {
    TrainConfig run = config.base;
    run.arch.norm = norm;
    run.out = (fs::path(config.out) / "groupsweep" / spec_folder_name(norm)).string();
    run.progress = false;
    std::cout << "groupsweep: " << norm << "\n" << std::flush;
    int diverged_at = 0;
    try {
      run_training(run);
    } catch (const DivergenceError& e) {
      std::cout << "groupsweep: " << norm << " diverged: " << e.what() << "\n";
      diverged_at = -1;
    }
    int last_epoch = 0;
    std::ifstream metrics(fs::path(run.out) / "metrics.jsonl");
    for (std::string line; std::getline(metrics, line);) {
      const auto m = nlohmann::json::parse(line);
      last_epoch = m.at("epoch").get<int>();
      rows.push_back({norm, "plain", "", "test_acc", last_epoch, m.at("test_acc").get<double>()});
      rows.push_back(
          {norm, "plain", "", "train_loss", last_epoch, m.at("train_loss").get<double>()});
    }
    if (diverged_at < 0) rows.push_back({norm, "plain", "", "diverged", last_epoch + 1, 1.0});
  }
  return rows;
}

}  // namespace nl::apps
