#include "apps/common/run_folder.hpp"

#include <fstream>

#include "apps/common/checkpoint.hpp"
#include "apps/common/run_checks.hpp"

namespace nl::apps {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<json> read_metrics(const fs::path& file) {
  std::vector<json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

std::string spec_folder_name(const std::string& spec) {
  std::string out = spec;
  for (char& ch : out)
    if (ch == ':' || ch == '=' || ch == ',' || ch == '+') ch = '_';
  return out;
}

namespace {
// The metrics lines of epochs up to `last_epoch`, as text.
std::string metrics_until(const fs::path& file, int64_t last_epoch) {
  std::ifstream f(file);
  std::string keep, line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    if (json::parse(line).at("epoch").get<int64_t>() <= last_epoch) keep += line + "\n";
  }
  return keep;
}
}  // namespace

RunFolder::RunFolder(const std::string& dir) : dir_(prepare_output_folder(dir)) {}

void RunFolder::begin(const json& config, int64_t start_epoch) {
  if (dir_.empty()) return;
  const std::string previous =
      start_epoch > 0 ? metrics_until(dir_ / "metrics.jsonl", start_epoch) : "";
  write_text_atomically(dir_ / "config.json", config.dump(2) + "\n");
  write_text_atomically(dir_ / "metrics.jsonl", previous);
}

void RunFolder::record_epoch(const json& metrics, const Module& model,
                             const std::map<std::string, Tensor>& optimizer_state,
                             const json& checkpoint_meta) {
  if (dir_.empty()) return;
  append_line(dir_ / "metrics.jsonl", metrics.dump());
  save_checkpoint((dir_ / "checkpoint.safetensors").string(), model, optimizer_state,
                  checkpoint_meta);
}

}  // namespace nl::apps
