// The checks a training run makes before it writes anything: settings in range, an output
// folder that can be written, a checkpoint that belongs to this run, and a memory budget
// the machine can meet. Each throws nl::Error naming the flag or file at fault.
#pragma once
#include <filesystem>
#include <string>

#include "apps/common/checkpoint.hpp"
#include "apps/common/training.hpp"

namespace nl::apps {

// Ranges of the numeric settings (--train-limit -5 is an error, not "all").
void check_settings(const TrainConfig& cfg);

// Creates `dir` (when given), proves it writable, and removes a checkpoint's stale temporary
// file left by a killed run. Returns the folder ("" when no output was asked for).
std::filesystem::path prepare_output_folder(const std::string& dir);

// The command-line flag of a to_json() setting: "batch_size" -> "--batch-size".
std::string flag_name(const std::string& key);

// Refuses a checkpoint whose run differs from `cfg` in any run-defining setting, naming the
// setting and both values.
void check_resume_compatible(const Checkpoint& ck, const TrainConfig& cfg);

// Resuming on another number of ranks than the checkpoint's run (docs/distributed.md): refused
// when the normalizer's statistics are per rank (bn and the other batch-statistics layers,
// sbn:group=G), since the per-rank batch would change the model being trained; allowed, with
// a note, otherwise (the same mathematics, not the same rounding).
void check_resume_world_size(const Checkpoint& ck, const TrainConfig& cfg, int world_size);
// True when `spec` computes statistics over the samples of a rank's batch only, so that the
// trained function depends on how the global batch is split (bn, gbn, brn, ..., sbn:group=G).
bool statistics_are_per_rank(const std::string& spec);

// Refuses a run whose estimated peak memory (model, gradients, optimizer state, activations of
// one batch) exceeds the memory this machine has available, stating the estimate.
void check_memory_budget(const TrainConfig& cfg, int64_t num_classes);

// Writes `text` to `file` through a temporary file and a rename; throws naming the file.
void write_text_atomically(const std::filesystem::path& file, const std::string& text);
// Appends one line; throws naming the file when it cannot be written.
void append_line(const std::filesystem::path& file, const std::string& line);

}  // namespace nl::apps
