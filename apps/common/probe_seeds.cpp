#include "apps/common/probe_seeds.hpp"

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.hpp"

namespace nl::apps {

std::string probe_options(int argc, const char* const* argv) {
  static const std::set<std::string> ignored{"--seed", "--seeds", "--threads", "--out"};
  std::string joined;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string name = arg.substr(0, arg.find('='));
    if (ignored.count(name)) {
      if (arg.find('=') == std::string::npos) ++i;  // "--seeds 3": skip the value too
      continue;
    }
    joined += (joined.empty() ? "" : " ") + arg;
  }
  return joined;
}

SeedCache::SeedCache(std::string dir, std::string experiment, std::string options)
    : dir_(std::move(dir)), experiment_(std::move(experiment)), options_(std::move(options)) {}

std::string SeedCache::path(uint64_t seed) const {
  return dir_ + "/" + experiment_ + ".seed" + std::to_string(seed) + ".csv";
}

std::optional<std::vector<ProbeRow>> SeedCache::load(uint64_t seed) const {
  const std::string file = path(seed);
  if (!std::filesystem::exists(file)) return std::nullopt;
  std::ifstream f(file);
  std::string first;
  std::getline(f, first);
  const std::string expected = "# options: " + options_;
  check(first == expected, "kept seed", file, " was measured with other options (its first line: '",
        first, "'; this run: '", expected,
        "'): delete it to measure the seed again, or give another --out");
  return read_probe_csv(file);
}

void SeedCache::save(uint64_t seed, const std::vector<ProbeRow>& rows) const {
  std::filesystem::create_directories(dir_);
  // Written under another name and renamed: an interruption never leaves half a seed.
  const std::string file = path(seed), partial = file + ".partial";
  {
    std::ofstream f(partial);
    check(bool(f), "probe", "cannot write ", partial);
    f << "# options: " << options_ << "\n";
    write_probe_csv(f, experiment_, rows);
  }
  std::filesystem::rename(partial, file);
}

}  // namespace nl::apps
