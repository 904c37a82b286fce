// The output folder of a training run (--out): config.json, metrics.jsonl (one JSON line per
// epoch) and checkpoint.safetensors, each replaced atomically. An empty path records nothing.
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "layers/module.hpp"

namespace nl::apps {

// The metrics.jsonl lines of a run (empty when the file does not exist).
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& file);
// A spec as a folder name of one sweep run: "gn:groups=8" -> "gn_groups_8".
std::string spec_folder_name(const std::string& spec);

class RunFolder {
 public:
  // Creates the folder and proves it writable (run_checks.hpp: prepare_output_folder).
  explicit RunFolder(const std::string& dir);
  // Writes config.json and keeps the metrics of the epochs before `start_epoch` (a resume).
  void begin(const nlohmann::json& config, int64_t start_epoch);
  // Appends the epoch's metrics, then replaces the checkpoint.
  void record_epoch(const nlohmann::json& metrics, const Module& model,
                    const std::map<std::string, Tensor>& optimizer_state,
                    const nlohmann::json& checkpoint_meta);

 private:
  std::filesystem::path dir_;
};

}  // namespace nl::apps
