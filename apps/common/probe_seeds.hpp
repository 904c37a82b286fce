// A probe over several seeds (probe --seeds N) can run for hours: each finished seed's rows are
// kept in <out>/<experiment>.seed<k>.csv, so a run that was interrupted and started again with
// the same command resumes at the first seed it had not finished.
//
// A kept seed is reused only when it was measured with the same options: its file starts with
// a "# options:" line (the command line without --seed, --seeds, --threads and --out, which do
// not change a seed's rows), and a file with other options is an error naming it, never silently
// mixed into the result.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "apps/common/probe.hpp"

namespace nl::apps {

// The options that decide a seed's rows: argv[1..] without --seed, --seeds, --threads, --out
// (and their values), joined by spaces.
std::string probe_options(int argc, const char* const* argv);

class SeedCache {
 public:
  SeedCache(std::string dir, std::string experiment, std::string options);
  // The rows of `seed` if they were measured before with the same options; nullopt if not.
  std::optional<std::vector<ProbeRow>> load(uint64_t seed) const;
  void save(uint64_t seed, const std::vector<ProbeRow>& rows) const;
  std::string path(uint64_t seed) const;

 private:
  std::string dir_, experiment_, options_;
};

}  // namespace nl::apps
